"""Inbound processing in batches (``messaging.inbound.batch``): many messages in one task reach
the same outcomes as one message per task — duplicates found inside the batch, out-of-order
flags, one status decision and one settling transition each — a second run changes nothing, and
a batch that fails is settled one message at a time."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dip.envelope import serialise_batch
from dip.samples import make_mpan_core
from messaging.inbound import batch, tasks
from messaging.inbound.models import StatusReply
from messaging.models import ExceptionCategory, Message, MessageException, Transition
from messaging.states import State
from tests.messaging.inbound.test_duplicates import new_transaction, renamed
from tests.messaging.inbound.test_pipeline import env as env  # the synced environment
from tests.messaging.inbound.test_pipeline import in_tenant
from tests.messaging.inbound.test_webhook import delivered_item, post

pytestmark = pytest.mark.django_db


def txn() -> str:
    return f"BATCH-{uuid.uuid4().hex[:12]}"


def deliver_together(env: Any, items: list[dict[str, Any]]) -> list[int]:
    """One callback carrying ``items``; the ids of the stored messages, in array order."""
    reply = post(env, serialise_batch(items))
    assert reply.status_code == 201, reply.text
    ids = [i["payload"]["CommonBlock"]["D0"]["transactionID"] for i in items]

    def lookup() -> list[int]:
        by_txn = dict(
            Message.objects.filter(transaction_id__in=ids).values_list("transaction_id", "pk")
        )
        return [by_txn[t] for t in ids]

    return in_tenant(env, lookup)


def outcome(env: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    def read() -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for m in Message.objects.filter(pk__in=ids):
            out[m.pk] = {
                "state": m.state,
                "duplicate_of": m.duplicate_of_id,
                "digest": m.payload_digest,
                "exceptions": sorted(
                    (e.category, e.code) for e in MessageException.objects.filter(message=m)
                ),
                "transitions": list(
                    Transition.objects.filter(message=m)
                    .order_by("id")
                    .values_list("from_state", "to_state")
                ),
                "replies": list(StatusReply.objects.filter(message=m).values_list("code", "state")),
            }
        return out

    return in_tenant(env, read)


def scenario(env: Any) -> list[int]:
    """original, its reference repeat, its content repeat, an earlier-sent message for a
    second MPAN arriving after a later one, and a plain one — all in one callback."""
    rng = random.Random()
    mpan, other, plain = (make_mpan_core(rng) for _ in range(3))
    late = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    original = delivered_item(txn(), mpan=mpan, when=late - timedelta(hours=3))
    same_reference = new_transaction(original, txn())
    sent_again = delivered_item(txn(), mpan=mpan, when=late - timedelta(hours=2))
    same_content = renamed(original, sent_again)
    newer = delivered_item(txn(), mpan=other, when=late)
    older = delivered_item(txn(), mpan=other, when=late - timedelta(hours=1))
    single = delivered_item(txn(), mpan=plain)
    return deliver_together(env, [original, same_reference, same_content, newer, older, single])


def run_task(env: Any, ids: list[int]) -> int:
    return in_tenant(env, lambda: tasks.process_messages(ids))


def test_one_task_settles_a_batch_as_one_task_per_message_would(env: Any) -> None:
    ids = scenario(env)
    assert run_task(env, ids) == 6
    got = outcome(env, ids)
    original, same_reference, same_content, newer, older, single = (got[i] for i in ids)
    assert original["state"] == State.VALIDATED and original["exceptions"] == []
    assert same_reference["state"] == State.REJECTED
    assert same_reference["duplicate_of"] == ids[0]
    assert same_reference["exceptions"] == [(ExceptionCategory.DUPLICATE, "RCP1006")]
    assert same_reference["replies"] == [("RCP1006", StatusReply.State.PENDING)]
    assert same_content["state"] == State.VALIDATED
    assert same_content["duplicate_of"] == ids[0]
    assert same_content["exceptions"] == [(ExceptionCategory.SUSPECTED_DUPLICATE, "")]
    assert newer["exceptions"] == []
    assert older["exceptions"] == [(ExceptionCategory.OUT_OF_ORDER, "")]
    for row in got.values():
        assert row["digest"], row
        assert len(row["transitions"]) == 2, row  # captured, then settled once
        assert row["transitions"][0] == ("", State.RECEIVED)
        assert len(row["replies"]) == 1, row
    for row in (original, newer, older, single, same_content):
        assert row["replies"] == [("RCP0000", StatusReply.State.WITHHELD)]


def test_a_second_run_changes_nothing(env: Any) -> None:
    ids = scenario(env)
    assert run_task(env, ids) == 6
    before = outcome(env, ids)
    assert run_task(env, ids) == 0
    assert outcome(env, ids) == before


def test_a_batch_that_fails_is_settled_one_message_at_a_time(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = scenario(env)

    def broken(*args: Any, **kw: Any) -> int:
        raise RuntimeError("bulk write failed")

    monkeypatch.setattr(batch, "_settle", broken)
    assert run_task(env, ids) == 6
    got = outcome(env, ids)
    assert [got[i]["state"] for i in ids] == [
        State.VALIDATED,
        State.REJECTED,
        State.VALIDATED,
        State.VALIDATED,
        State.VALIDATED,
        State.VALIDATED,
    ]
    assert got[ids[4]]["exceptions"] == [(ExceptionCategory.OUT_OF_ORDER, "")]
    assert all(len(r["transitions"]) == 2 and len(r["replies"]) == 1 for r in got.values())
