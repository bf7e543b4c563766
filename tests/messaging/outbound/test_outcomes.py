"""Send API answers decided by codes, never by text (issue 18): the real sandbox with its
``reject_batch`` / ``drop_after`` faults and its wording switched to ``terse`` (every free text
rewritten, codes kept)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from messaging.models import Message, MessageException
from messaging.outbound.models import Attempt, OutboxEntry
from messaging.outbound.services import held, sender
from messaging.states import State
from sandbox.core import Sandbox
from tests.messaging.outbound.conftest import Rig

pytestmark = pytest.mark.django_db

URL = "/api/v1/outbound/messages/"


@pytest.fixture(autouse=True)
def terse(dip_sandbox: tuple[Sandbox, str]) -> Iterator[None]:
    sb = dip_sandbox[0]
    sb.settings.wording = "terse"
    yield
    sb.settings.wording = "spec"


def submit(client: Any, rig: Rig, n: int, **kw: Any) -> list[str]:
    body = {
        "dip_id": rig.dip_id,
        "interface_id": "IF-021",
        "messages": [rig.message(**kw) for _ in range(n)],
    }
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 202, response.content
    return [m["id"] for m in response.json()["messages"]]


def states(ids: list[str]) -> list[str]:
    by_id = dict(Message.objects.filter(public_id__in=ids).values_list("public_id", "state"))
    return [by_id[uuid.UUID(i)] for i in ids]


def run_until_done(rig: Rig, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while OutboxEntry.objects.filter(pending=True, held_at__isnull=True).exists():
        assert time.monotonic() < deadline, "outbox not empty in time"
        sender.send_group(environment="UIT", dip_id=rig.dip_id, interface_id="IF-021")
        time.sleep(0.02)


def test_batch_rejected_whole_rejects_only_the_culprit(rig: Rig, host_client: Any) -> None:
    """400 with MSG1007 for one item and MSG1000 for the rest: one rejected with its code, the
    others sent again at once without it, and accepted."""
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 4)
    rig.fault(side="send", kind="reject_batch", code="MSG1007", times=1)
    sender.send_group(environment="UIT", dip_id=rig.dip_id, interface_id="IF-021")
    run_until_done(rig)
    got = states(ids)
    assert got.count(State.REJECTED) == 1 and got.count(State.ACCEPTED) == 3, got
    exc = MessageException.objects.get()
    assert exc.category == "rejected_by_dip" and exc.code == "MSG1007"
    first, second = Attempt.objects.order_by("id")[:2]
    assert first.status_code == 400 and "Batch" not in first.response_body  # terse wording
    assert second.status_code == 201 and second.batch_size == 3
    assert exc.message_id not in second.message_ids  # the culprit is left out


def test_batch_rejected_with_generic_codes_only_is_isolated_not_rejected(
    rig: Rig, host_client: Any
) -> None:
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 3)
    rig.fault(side="send", kind="reject_batch", times=2)  # the batch, then its first half
    run_until_done(rig)
    assert states(ids) == [State.ACCEPTED] * 3
    assert not MessageException.objects.exists()
    sizes = [a.batch_size for a in Attempt.objects.order_by("id")]
    assert sizes == [3, 2, 1, 1, 1]  # halved, then halved again: each alone
    assert OutboxEntry.objects.filter(solo=True, generic_rejections__gte=1).count() == 3


def test_refused_alone_with_generic_codes_is_rejected_past_the_limit(
    rig: Rig, host_client: Any, settings: Any
) -> None:
    settings.OUTBOUND = {**settings.OUTBOUND, "GENERIC_REJECT_LIMIT": 3}
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 1)
    rig.fault(side="send", kind="reject_batch", times=3)
    run_until_done(rig)
    assert states(ids) == [State.REJECTED]
    assert [a.status_code for a in Attempt.objects.order_by("id")] == [400, 400, 400]
    assert MessageException.objects.get().code == "MSG1000"


def test_lost_answer_resends_the_same_batch_and_counts_as_accepted(
    rig: Rig, host_client: Any
) -> None:
    """drop_after: the DIP took the batch but the answer was lost. The resend carries the same
    composition and bytes although new messages arrived meanwhile; MSG1006 = accepted."""
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 3)
    before = rig.stats()["accepted_messages"]
    rig.fault(side="send", kind="drop_after", times=1)
    sender.send_group(environment="UIT", dip_id=rig.dip_id, interface_id="IF-021")
    later = submit(client, rig, 2)
    run_until_done(rig)
    assert states(ids + later) == [State.ACCEPTED] * 5
    attempts = list(Attempt.objects.order_by("id"))
    assert [a.status_code for a in attempts[:2]] == [None, 400]
    assert attempts[0].body_sha256 == attempts[1].body_sha256  # same composition, same bytes
    assert attempts[2].status_code == 201 and attempts[2].batch_size == 2
    assert not MessageException.objects.exists()
    assert rig.stats()["accepted_messages"] == before + 5  # each held once by the DIP


def test_mixed_batch_after_a_lost_answer_loses_no_valid_message(rig: Rig, host_client: Any) -> None:
    """The issue's failure: messages the DIP already holds re-claimed together with new ones.
    The DIP refuses the batch whole (MSG1006 for the repeats, generic for the rest): repeats
    are accepted, the rest sent again — none rejected."""
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 2)
    rig.fault(side="send", kind="drop_after", times=1)
    sender.send_group(environment="UIT", dip_id=rig.dip_id, interface_id="IF-021")
    later = submit(client, rig, 2)
    OutboxEntry.objects.update(batch_key="")  # composition no longer kept (e.g. an older DCP)
    OutboxEntry.objects.filter(pending=True).update(due_at=Message.objects.first().created)
    run_until_done(rig)
    assert states(ids + later) == [State.ACCEPTED] * 4
    codes = [a.status_code for a in Attempt.objects.order_by("id")]
    assert codes == [None, 400, 201]
    assert not MessageException.objects.exists()


def test_unknown_code_holds_the_message_for_an_operator(rig: Rig, host_client: Any) -> None:
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 1)
    rig.fault(side="send", kind="reject_batch", code="MSG9999", times=1)
    sender.send_group(environment="UIT", dip_id=rig.dip_id, interface_id="IF-021")
    entry = OutboxEntry.objects.get()
    assert states(ids) == [State.QUEUED] and entry.pending and entry.held_at is not None
    assert MessageException.objects.get().code == "MSG9999"
    assert sender.send_group(environment="UIT", dip_id=rig.dip_id, interface_id="IF-021") == 0
    assert held.release_held(message_ids=[entry.message_id], actor=rig.admin) == 1
    run_until_done(rig)
    assert states(ids) == [State.ACCEPTED]
