"""Client API → outbox → sender → the real sandbox, and back through status messages."""

from __future__ import annotations

from typing import Any

import pytest

from messaging.models import Message, MessageException
from messaging.outbound.models import Attempt, OutboxEntry
from messaging.outbound.services import sender, status
from messaging.states import State
from tests.messaging.outbound.conftest import MPAN_SLOW, Rig

pytestmark = pytest.mark.django_db

URL = "/api/v1/outbound/messages/"


def post(client: Any, rig: Rig, messages: list[dict[str, Any]], **headers: str) -> Any:
    body = {"dip_id": rig.dip_id, "interface_id": "IF-021", "messages": messages}
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return client.post(URL, body, content_type="application/json", **extra)


def run_sender(rig: Rig) -> int:
    return sender.send_group(environment="UIT", dip_id=rig.dip_id, interface_id="IF-021")


def states(ids: list[str]) -> list[str]:
    return [Message.objects.get(public_id=i).state for i in ids]


def wait_statuses(rig: Rig, ids: list[str], timeout: float = 15) -> None:
    """Stand in for the inbound status webhook: hand the callbacks about these messages to the
    service (callbacks about earlier tests' messages are left alone)."""
    import time

    surs = set(
        Message.objects.filter(public_id__in=ids).values_list("sender_unique_reference", flat=True)
    )
    path = f"/status/{rig.dip_id}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [
            c
            for c in rig.receiver.get(path)
            if surs & {i["senderUniqueReference"] for i in c.items}
        ]
        if surs <= {i["senderUniqueReference"] for c in mine for i in c.items}:
            for callback in mine:
                status.apply_status_messages(callback.body)
            return
        time.sleep(0.02)
    raise AssertionError(f"no status for {surs}")


def test_submit_send_accept_settle(rig: Rig, host_client: Any, django_capture_on_commit_callbacks):
    client = host_client(rig.tenant, rig.admin)
    with django_capture_on_commit_callbacks() as nudges:
        response = post(client, rig, [rig.message(), rig.message()])
    assert response.status_code == 202, response.json()
    assert len(nudges) == 1  # the sender is nudged once the rows are committed
    ids = [m["id"] for m in response.json()["messages"]]
    assert states(ids) == [State.QUEUED, State.QUEUED]

    assert run_sender(rig) == 2
    assert states(ids) == [State.ACCEPTED, State.ACCEPTED]
    attempt = Attempt.objects.get()
    assert attempt.status_code == 201 and attempt.batch_size == 2  # one signed POST
    message = Message.objects.get(public_id=ids[0])
    assert message.transaction_id.startswith("T-IF-021-")
    assert message.outbox.certificate_fingerprint == attempt.certificate_fingerprint != ""
    assert message.common_block["S1"]["DIPConnectionProviderID"] == rig.dcp_id

    wait_statuses(rig, ids)
    assert states(ids) == [State.SETTLED, State.SETTLED]
    steps = [t.to_state for t in message.transitions.order_by("id")]
    assert steps == ["received", "validated", "queued", "sent", "accepted", "settled"]

    detail = client.get(f"{URL}{ids[0]}/").json()
    assert detail["state"] == "settled" and detail["status_reports"][0]["code"] == "RCP0000"


def test_recipient_rejection_at_l4_opens_an_exception(rig: Rig, host_client: Any):
    client = host_client(rig.tenant, rig.admin)
    ids = [m["id"] for m in post(client, rig, [rig.message(mpan=MPAN_SLOW)]).json()["messages"]]
    run_sender(rig)
    wait_statuses(rig, ids)
    assert states(ids) == [State.REJECTED]
    exc = MessageException.objects.get(message__public_id=ids[0])
    assert exc.category == "rejected_by_recipient" and exc.code == "RCP1000"


def test_rejected_by_the_dip_at_send(rig: Rig, host_client: Any):
    """The sandbox refuses what our validation could not know: a nomination it lacks."""
    import httpx

    from tests.messaging.outbound.conftest import ADMIN

    httpx.put(
        f"{rig.sandbox_url}/admin/dip-ids/{rig.dip_id}",
        headers=ADMIN,
        json={"role": "SDS", "nominated_dcps": []},
    ).raise_for_status()
    client = host_client(rig.tenant, rig.admin)
    ids = [m["id"] for m in post(client, rig, [rig.message()]).json()["messages"]]
    run_sender(rig)
    assert states(ids) == [State.REJECTED]
    exc = MessageException.objects.get(message__public_id=ids[0])
    assert exc.category == "rejected_by_dip" and exc.code == "MSG1011"
    assert not OutboxEntry.objects.filter(pending=True).exists()


def test_retried_then_accepted_with_the_same_sur(rig: Rig, host_client: Any):
    rig.fault(side="send", kind="error", status=502, times=2)
    client = host_client(rig.tenant, rig.admin)
    ids = [m["id"] for m in post(client, rig, [rig.message()]).json()["messages"]]
    import time

    deadline = time.monotonic() + 10
    while states(ids) != [State.ACCEPTED] and time.monotonic() < deadline:
        run_sender(rig)
        time.sleep(0.05)
    assert states(ids) == [State.ACCEPTED]
    attempts = list(Attempt.objects.order_by("id"))
    assert [a.status_code for a in attempts] == [502, 502, 201]
    assert len({a.body_sha256 for a in attempts}) == 1  # identical bytes, same SUR each time
    steps = [t.to_state for t in Message.objects.get(public_id=ids[0]).transitions.order_by("id")]
    assert steps[3:] == ["sent", "queued", "sent", "queued", "sent", "accepted"]


def test_retry_after_is_honoured(rig: Rig, host_client: Any):
    """DIP down (503 + Retry-After: 5): the entry waits at least that long, still queued."""
    rig.fault(side="send", kind="down", duration=30)
    client = host_client(rig.tenant, rig.admin)
    ids = [m["id"] for m in post(client, rig, [rig.message()]).json()["messages"]]
    run_sender(rig)
    entry = OutboxEntry.objects.get()
    assert states(ids) == [State.QUEUED] and entry.pending and entry.lease_until is None
    assert (entry.due_at - entry.first_attempt_at).total_seconds() >= 4.9
    assert run_sender(rig) == 0  # not due yet: nothing is sent early


def test_dropped_connection_is_retried(rig: Rig, host_client: Any):
    client = host_client(rig.tenant, rig.admin)
    ids = [m["id"] for m in post(client, rig, [rig.message()]).json()["messages"]]
    rig.fault(side="send", kind="drop", rate=1, times=1)
    while states(ids) == [State.QUEUED]:
        run_sender(rig)  # the back-off is a few ms in these tests
    assert states(ids) == [State.ACCEPTED]
    assert [a.status_code for a in Attempt.objects.order_by("id")] == [None, 201]


def test_lost_response_then_msg1006_counts_as_accepted(rig: Rig, host_client: Any):
    """The DIP accepted our first POST but the answer never reached us (the worker died before
    recording it). The resend's MSG1006 means 'accepted already', not a rejection, and the DIP
    holds the message once."""
    from messaging.outbound.services.clients import sender_for
    from messaging.services import raw_bytes

    client = host_client(rig.tenant, rig.admin)
    ids = [m["id"] for m in post(client, rig, [rig.message()]).json()["messages"]]
    before = rig.stats()["accepted_messages"]
    message = Message.objects.get(public_id=ids[0])
    first = sender_for(environment="UIT", dip_id=rig.dip_id).client.send(
        "IF-021", raw_bytes(message.raw)
    )
    assert first.status_code == 201  # ... and then the worker died before recording it:
    from datetime import timedelta

    from django.utils import timezone

    OutboxEntry.objects.update(attempts=1, lease_until=timezone.now() - timedelta(seconds=1))
    run_sender(rig)
    assert states(ids) == [State.ACCEPTED]
    assert [a.status_code for a in Attempt.objects.order_by("id")] == [400]
    assert not MessageException.objects.exists()
    assert rig.stats()["accepted_messages"] == before + 1  # once at the DIP


def test_reused_sur_on_a_first_attempt_is_a_rejection(rig: Rig, host_client: Any):
    """MSG1006 on a message we never sent before is a genuine duplicate: rejected."""
    from messaging.outbound.services.clients import sender_for
    from messaging.services import raw_bytes

    client = host_client(rig.tenant, rig.admin)
    ids = [m["id"] for m in post(client, rig, [rig.message()]).json()["messages"]]
    message = Message.objects.get(public_id=ids[0])
    sender_for(environment="UIT", dip_id=rig.dip_id).client.send("IF-021", raw_bytes(message.raw))
    run_sender(rig)
    assert states(ids) == [State.REJECTED]
    assert MessageException.objects.get().code == "MSG1006"
