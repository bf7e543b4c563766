"""An L4 status that arrives while its message is still queued (the DIP took it, our answer was
lost, the resend has not happened yet) is stored without settling it; it settles (or rejects)
the message once the resend's MSG1006 makes it accepted."""

from __future__ import annotations

from typing import Any

import pytest

from messaging.models import Message, MessageException
from messaging.outbound.models import OutboxEntry, StatusReport
from messaging.states import State
from tests.messaging.outbound.conftest import MPAN, MPAN_SLOW, Rig
from tests.messaging.outbound.test_e2e import post, run_sender, states, wait_statuses

pytestmark = pytest.mark.django_db


def _lost_response(rig: Rig, host_client: Any, mpan: str) -> list[str]:
    """Submit; the DIP accepts a first POST whose answer is lost; its L4 status comes in."""
    from messaging.outbound.services.clients import sender_for
    from messaging.services import raw_bytes

    client = host_client(rig.tenant, rig.admin)
    ids = [m["id"] for m in post(client, rig, [rig.message(mpan=mpan)]).json()["messages"]]
    message = Message.objects.get(public_id=ids[0])
    first = sender_for(environment="UIT", dip_id=rig.dip_id).client.send(
        "IF-021", raw_bytes(message.raw)
    )
    assert first.status_code == 201
    # Tried once; the worker died before recording the answer: the DIP may hold it.
    OutboxEntry.objects.update(attempts=1, maybe_at_dip=True)
    wait_statuses(rig, ids)
    assert states(ids) == [State.QUEUED]  # stored, not applied: we never saw it accepted
    assert StatusReport.objects.filter(message__public_id=ids[0]).count() == 1
    return ids


def test_early_success_settles_once_the_resend_is_accepted(rig: Rig, host_client: Any) -> None:
    ids = _lost_response(rig, host_client, MPAN)
    run_sender(rig)  # resend → MSG1006 → accepted already → the stored L4 status applies
    assert states(ids) == [State.SETTLED]
    message = Message.objects.get(public_id=ids[0])
    steps = [t.to_state for t in message.transitions.order_by("id")]
    assert steps[-3:] == ["sent", "accepted", "settled"]
    assert message.outbox.status_due_at is None  # no L4 timer left running
    assert not MessageException.objects.exists()


def test_early_rejection_rejects_once_the_resend_is_accepted(rig: Rig, host_client: Any) -> None:
    ids = _lost_response(rig, host_client, MPAN_SLOW)  # that recipient rejects every message
    run_sender(rig)
    assert states(ids) == [State.REJECTED]
    exc = MessageException.objects.get(message__public_id=ids[0])  # one, opened on arrival
    assert exc.category == "rejected_by_recipient" and exc.code == "RCP1000"
    assert Message.objects.get(public_id=ids[0]).outbox.status_due_at is None
