"""Status semantics per the DIP rules (issue 18, docs/outbound.md "Status semantics"): silence
past an interface's status window settles a message "no issue reported" (no exception); a
negative status rejects it with an exception whenever it arrives; a positive one settles it.
The clock is injected (``now=``) or moved with freezegun; nothing sleeps."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Max, Min
from django.utils import timezone
from freezegun import freeze_time

from dcp import metrics
from dip.responses import StandardResponseBody
from messaging.models import Message, MessageException
from messaging.outbound.conf import outbound_settings, parse_status_windows
from messaging.outbound.models import OutboxEntry
from messaging.outbound.services import status
from messaging.states import State
from tests.messaging.outbound.conftest import Rig
from tests.messaging.outbound.test_e2e import post, run_sender, states

pytestmark = pytest.mark.django_db

# The acceptance run is 3,000: DCP_TEST_HEALTHY_N=3000 pytest -k healthy (docs/outbound.md).
HEALTHY_N = int(os.environ.get("DCP_TEST_HEALTHY_N", "300"))


def _submit(rig: Rig, host_client: Any, n: int) -> list[str]:
    client = host_client(rig.tenant, rig.admin)
    ids: list[str] = []
    for start in range(0, n, 100):
        batch = [rig.message() for _ in range(min(100, n - start))]
        response = post(client, rig, batch)
        assert response.status_code == 202, response.json()
        ids += [m["id"] for m in response.json()["messages"]]
    return ids


def _accept_all(rig: Rig, ids: list[str]) -> None:
    for _ in range(len(ids) // 50 + 5):
        run_sender(rig)
        if not Message.objects.filter(public_id__in=ids).exclude(state=State.ACCEPTED).exists():
            return
    raise AssertionError(f"not all accepted: {sorted(set(states(ids)))}")


def _negative(message: Message, code: str = "RCP1022", by: str = "2309039001") -> Any:
    return StandardResponseBody(
        transactionID=message.transaction_id,
        senderUniqueReference=message.sender_unique_reference,
        correlationID=None,
        sentTimestamp="2026-11-23T12:00:00+00:00",
        senderID=by,
        recipientID=message.dip_id,
        DIPConnectionProviderID=None,
        message=f"{code} - Msg Contains Invalid Value for Value Restricted Field",
        help="B047.q: not a quality code",
    )


def _sample_count(name: str, **labels: str) -> float:
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_healthy_sends_without_statuses_settle_with_no_exception(rig: Rig, host_client: Any):
    acks_before = _sample_count("dcp_dip_send_ack_seconds_count", interface="IF-021")
    ids = _submit(rig, host_client, HEALTHY_N)
    _accept_all(rig, ids)  # the recipients' statuses are never handed over: silence
    assert _sample_count("dcp_dip_send_ack_seconds_count", interface="IF-021") > acks_before
    window = outbound_settings().status_window_for("IF-021")
    accepted = OutboxEntry.objects.aggregate(first=Min("accepted_at"), last=Max("accepted_at"))
    just_before = accepted["first"] + timedelta(seconds=window - 1)
    assert status.close_status_windows(now=just_before) == 0
    after = accepted["last"] + timedelta(seconds=window + 1)
    assert status.close_status_windows(now=after, batch=128) == HEALTHY_N
    assert set(states(ids)) == {State.SETTLED}
    assert MessageException.objects.count() == 0
    outcomes = set(OutboxEntry.objects.values_list("status_outcome", flat=True))
    assert outcomes == {"no_issue"}
    assert not OutboxEntry.objects.filter(status_due_at__isnull=False).exists()
    # Visible: the API and the message page name the reason.
    client = host_client(rig.tenant, rig.admin)
    shown = client.get(f"/api/v1/outbound/messages/{ids[0]}/").json()
    assert shown["state"] == "settled" and shown["status_outcome"] == "no_issue"
    assert shown["transitions"][-1]["reason"] == "no issue reported"
    assert shown["exceptions"] == []
    page = client.get(f"/messages/{ids[0]}/").content.decode()
    assert "Settled: no issue reported" in page


def test_a_negative_status_ten_minutes_after_the_window_rejects(rig: Rig, host_client: Any):
    (public_id,) = _submit(rig, host_client, 1)
    _accept_all(rig, [public_id])
    message = Message.objects.get(public_id=public_id)
    accepted_at = message.outbox.accepted_at
    assert accepted_at is not None
    window = outbound_settings().status_window_for("IF-021")
    assert status.close_status_windows(now=accepted_at + timedelta(seconds=window + 1)) == 1
    assert states([public_id]) == [State.SETTLED]

    late = accepted_at + timedelta(seconds=window, minutes=10)
    before = _sample_count(
        "dcp_dip_status_delay_seconds_count", interface="IF-021", outcome="negative"
    )
    with freeze_time(late):
        result = status.apply_status_bodies([_negative(message)])
    assert (result.matched, result.rejected, result.settled) == (1, 1, 0)
    message.refresh_from_db()
    assert message.state == State.REJECTED
    last = message.transitions.latest("id")
    assert (last.from_state, last.reason, last.at) == ("settled", "negative status", late)
    assert last.details["code"] == "RCP1022" and last.details["after_settled"] is True
    exc = MessageException.objects.get(message=message)
    assert (exc.category, exc.code, exc.status) == ("rejected_by_recipient", "RCP1022", "open")
    assert "after the message had settled" in exc.summary
    assert message.outbox.status_outcome == "negative"
    after = _sample_count(
        "dcp_dip_status_delay_seconds_count", interface="IF-021", outcome="negative"
    )
    assert after == before + 1


def test_negative_in_the_window_rejects_and_a_later_positive_does_not_undo_it(
    rig: Rig, host_client: Any
):
    (public_id,) = _submit(rig, host_client, 1)
    _accept_all(rig, [public_id])
    message = Message.objects.get(public_id=public_id)
    status.apply_status_bodies([_negative(message, code="MSG1031", by="DIP0000001")])
    assert states([public_id]) == [State.REJECTED]
    exc = MessageException.objects.get(message=message)
    assert (exc.category, exc.code) == ("rejected_by_dip", "MSG1031")
    positive = StandardResponseBody(
        **{**_negative(message).to_dict(), "message": "RCP0000 - Message Success", "help": None}
    )
    status.apply_status_bodies([positive])
    assert states([public_id]) == [State.REJECTED]
    assert status.close_status_windows(now=timezone.now() + timedelta(days=1)) == 0
    assert message.status_reports.count() == 2


def test_positive_status_settles_with_its_own_reason(rig: Rig, host_client: Any):
    (public_id,) = _submit(rig, host_client, 1)
    _accept_all(rig, [public_id])
    message = Message.objects.get(public_id=public_id)
    positive = StandardResponseBody(
        **{**_negative(message).to_dict(), "message": "RCP0000 - Message Success", "help": None}
    )
    status.apply_status_bodies([positive])
    message.refresh_from_db()
    assert message.state == State.SETTLED
    assert message.transitions.latest("id").reason == "positive status"
    assert message.outbox.status_outcome == "positive" and message.outbox.status_due_at is None
    assert not MessageException.objects.exists()


def test_status_window_per_interface(rig: Rig, host_client: Any, settings: Any):
    settings.OUTBOUND = {**settings.OUTBOUND, "STATUS_WINDOWS": "IF-021=600, if-031=30"}
    conf = outbound_settings()
    assert conf.status_window_for("IF-021") == 600.0
    assert conf.status_window_for("IF-031") == 30.0
    assert conf.status_window_for("IF-019") == conf.status_window
    (public_id,) = _submit(rig, host_client, 1)
    _accept_all(rig, [public_id])
    entry = OutboxEntry.objects.get(message__public_id=public_id)
    assert entry.status_due_at is not None and entry.accepted_at is not None
    assert (entry.status_due_at - entry.accepted_at).total_seconds() == 600.0
    assert status.close_status_windows(now=entry.accepted_at + timedelta(seconds=599)) == 0
    assert status.close_status_windows(now=entry.accepted_at + timedelta(seconds=601)) == 1


@pytest.mark.parametrize(
    "spec", ["IF-21=5", "IF-021", "IF-021=abc", "IF-021=0", "IF-021=-3", "IF-021=9999999"]
)
def test_malformed_status_windows_are_configuration_errors(spec: str):
    with pytest.raises(ImproperlyConfigured, match="DCP_OUTBOUND_STATUS_WINDOWS"):
        parse_status_windows(spec)


def _expired_by_the_old_timer(sur: str) -> Message:
    from messaging import services as core

    raw = core.store_raw(f'{{"sur": "{sur}"}}'.encode())
    (m,) = core.create_messages(
        [
            core.NewMessage(
                direction="outbound",
                environment="UIT",
                interface_id="IF-021",
                dip_id="1409030001",
                raw=raw,
                sender_unique_reference=sur,
            )
        ],
        actor="test",
    )
    for state in (State.VALIDATED, State.QUEUED, State.SENT, State.ACCEPTED, State.EXPIRED):
        core.transition(m, state, actor="test")
    core.open_exception(m, category="timeout", code="L4_TIMEOUT", summary="No status 12 s after")
    return m


def test_upgrade_settles_what_the_old_timer_expired(tenant_a: Any):
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from audit.models import AuditEvent
    from messaging.outbound.models import StatusReport

    with tenant_context(tenant_a):
        quiet = _expired_by_the_old_timer("S-quiet")
        refused = _expired_by_the_old_timer("S-refused")
        StatusReport.objects.create(
            message=refused, code="RCP1022", success=False, received_at=timezone.now()
        )
    out = io.StringIO()
    call_command("settle_expired_outbound", schema=tenant_a.schema_name, stdout=out)
    assert f"{tenant_a.schema_name}: 1 settled" in out.getvalue()
    with tenant_context(tenant_a):
        quiet.refresh_from_db()
        refused.refresh_from_db()
        assert (quiet.state, refused.state) == (State.SETTLED, State.EXPIRED)
        assert quiet.transitions.latest("id").reason == "no issue reported"
        exc = MessageException.objects.get(message=quiet)
        assert exc.status == "resolved" and "no issue reported" in exc.resolution
        assert MessageException.objects.get(message=refused).status == "open"
        assert AuditEvent.objects.filter(action="outbound.legacy_expired_settled").count() == 1
