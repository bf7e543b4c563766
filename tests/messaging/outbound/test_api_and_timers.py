"""Client API refusals, idempotency, client API keys, timers and fairness accounting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from messaging.models import Message, MessageException
from messaging.outbound.models import Attempt, OutboxEntry
from messaging.outbound.services import keys, slots, status
from messaging.states import State
from participants.models import Nomination
from tests.messaging.outbound.conftest import Rig
from tests.messaging.outbound.test_e2e import URL, post, run_sender, states, wait_statuses

pytestmark = pytest.mark.django_db


def test_invalid_message_is_400_with_findings_and_nothing_queued(rig: Rig, host_client: Any):
    bad = rig.message()
    del bad["payload"]["CommonBlock"]["S1"]["senderTimestamp"]
    response = post(host_client(rig.tenant, rig.admin), rig, [rig.message(), bad])
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_message"
    assert any(f["index"] == 1 for f in body["details"]["findings"])
    assert not Message.objects.exists() and not OutboxEntry.objects.exists()


def test_not_nominated_is_422_with_the_rule_code(rig: Rig, host_client: Any):
    Nomination.objects.update(status=Nomination.Status.REVOKED)
    response = post(host_client(rig.tenant, rig.admin), rig, [rig.message()])
    assert response.status_code == 422
    assert response.json()["code"] == "not_nominated"
    assert not Message.objects.exists()


def test_idempotent_resubmission(rig: Rig, host_client: Any):
    client = host_client(rig.tenant, rig.admin)
    message = rig.message()
    first = post(client, rig, [message], **{"Idempotency-Key": "k-1"})
    again = post(client, rig, [message], **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["messages"] == again.json()["messages"]
    assert Message.objects.count() == 1
    other = post(client, rig, [rig.message()], **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"


def test_client_api_key_with_scopes(rig: Rig, host_client: Any):
    sender_key = keys.create_key(name="erp", scopes=["messages:send"], actor=rig.admin)
    anonymous = host_client(rig.tenant)
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {sender_key.secret}"}
    body = {"dip_id": rig.dip_id, "interface_id": "IF-021", "messages": [rig.message()]}
    ok = anonymous.post(URL, body, content_type="application/json", **auth)
    assert ok.status_code == 202
    message_id = ok.json()["messages"][0]["id"]
    assert anonymous.get(f"{URL}{message_id}/", **auth).status_code == 403  # no read scope
    keys.revoke_key(key=sender_key.key, actor=rig.admin)
    assert anonymous.post(URL, body, content_type="application/json", **auth).status_code == 401
    assert keys.authenticate("odcp_nothing_here") is None


def test_silence_past_the_window_settles_no_issue_reported_then_a_status_applies(
    rig: Rig, host_client
):
    ids = [
        m["id"]
        for m in post(host_client(rig.tenant, rig.admin), rig, [rig.message()]).json()["messages"]
    ]
    run_sender(rig)
    assert states(ids) == [State.ACCEPTED]
    assert status.close_status_windows() == 0  # the window is still open
    later = timezone.now() + timedelta(seconds=rig_window() + 1)
    assert status.close_status_windows(now=later) == 1
    assert states(ids) == [State.SETTLED]
    entry = OutboxEntry.objects.get()
    assert (entry.status_outcome, entry.status_due_at) == ("no_issue", None)
    assert entry.message.transitions.order_by("id").last().reason == "no issue reported"
    assert not MessageException.objects.exists()  # silence is not an exception
    assert status.close_status_windows(now=later) == 0  # fires once
    wait_statuses(rig, ids)  # the sandbox's recipient sends a positive status late
    assert states(ids) == [State.SETTLED]
    entry.refresh_from_db()
    assert entry.status_outcome == "positive"


def rig_window() -> float:
    from messaging.outbound.conf import outbound_settings

    return outbound_settings().status_window_for("IF-021")


def test_per_mpan_order_holds_a_later_message_back(rig: Rig, host_client: Any):
    client = host_client(rig.tenant, rig.admin)
    first = post(client, rig, [rig.message()]).json()["messages"][0]["id"]
    second = post(client, rig, [rig.message()]).json()["messages"][0]["id"]  # same MPAN
    OutboxEntry.objects.filter(message__public_id=first).update(
        due_at=timezone.now() + timedelta(minutes=5)  # the earlier one is backing off
    )
    run_sender(rig)
    assert states([first, second]) == [State.QUEUED, State.QUEUED]
    OutboxEntry.objects.filter(message__public_id=first).update(due_at=timezone.now())
    run_sender(rig)
    assert states([first, second]) == [State.ACCEPTED, State.ACCEPTED]
    attempt = Attempt.objects.get()
    assert attempt.message_ids == sorted(attempt.message_ids)  # in order, in one batch


def test_a_tenant_never_holds_more_than_its_slots(rig: Rig):
    """Concurrency accounting: while two senders of this tenant hold its two slots (a flood in
    flight), a third gets none and returns at once, leaving the worker to other tenants; a
    sender of another tenant still gets its slots."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    schema = connection.schema_name
    release, held = threading.Event(), threading.Barrier(3)

    def worker(tenant_schema: str, dip_id: str, hold: bool) -> bool:
        try:
            connection.set_schema(tenant_schema)
            with slots.send_slots(dip_id=dip_id, tenant_limit=2, dip_id_limit=2) as ok:
                if hold:
                    held.wait(10)
                    release.wait(10)
                return ok
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        flood = [pool.submit(worker, schema, f"A{i}", True) for i in (1, 2)]
        held.wait(10)
        try:
            assert pool.submit(worker, schema, "A3", False).result() is False
            assert pool.submit(worker, "t_beta", "B1", False).result() is True
        finally:
            release.set()
        assert [f.result() for f in flood] == [True, True]
