"""Inbound duplicates on the real path: the DIP's signed callback to our webhook, the
processing task (``messaging_inbound.process_messages``), the status reply to the sandbox's
``/statusmessage``, the push to a client system (docs/inbound.md "Duplicates")."""

from __future__ import annotations

import copy
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from django.db.models import Max
from django.utils import timezone
from django_tenants.utils import tenant_context

from console import dashboard
from dcp import metrics
from dip.envelope import serialise_batch
from dip.samples import make_mpan_core
from messaging.inbound import duplicates, feed, push, status, tasks
from messaging.inbound.models import (
    EndpointDelivery,
    InboundReceipt,
    StatusReply,
)
from messaging.models import ExceptionCategory, FeedEvent, Message, MessageException
from messaging.services import publish_feed_events
from tests.messaging.inbound.test_pipeline import admin, in_tenant, make_endpoint, stop_endpoint
from tests.messaging.inbound.test_pipeline import env as env  # the synced environment
from tests.messaging.inbound.test_webhook import delivered_item, post
from tests.sandbox.helpers import ACME

pytestmark = pytest.mark.django_db


def txn() -> str:
    return f"DUPT-{uuid.uuid4().hex[:12]}"


def renamed(item: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """``item``'s content under ``fresh``'s references (S1 and D0): Seed 003's duplicates."""
    out = copy.deepcopy(item)
    common, new = out["payload"]["CommonBlock"], fresh["payload"]["CommonBlock"]
    common["S1"], common["D0"] = copy.deepcopy(new["S1"]), copy.deepcopy(new["D0"])
    return out


def new_transaction(item: dict[str, Any], transaction_id: str) -> dict[str, Any]:
    out = copy.deepcopy(item)
    out["payload"]["CommonBlock"]["D0"]["transactionID"] = transaction_id
    return out


def deliver(env: Any, *items: dict[str, Any]) -> None:
    for item in items:
        reply = post(env, serialise_batch([item]))
        assert reply.status_code == 201, reply.text


def process(env: Any, transaction_ids: list[str], endpoint_id: int | None = None) -> None:
    """The processing task for these messages (one task per id, in the given order), then the
    status sender and the push, as the task's follow-ups would."""

    def run() -> None:
        with tenant_context(env.tenant):
            for t in transaction_ids:
                pk = Message.objects.get(transaction_id=t).pk
                tasks.process_messages([pk])
            status.send_due_status_replies()
            push.enqueue_new_events()
            if endpoint_id is not None:
                push.push_endpoint(endpoint_id)

    in_tenant(env, run)


def message(env: Any, transaction_id: str) -> Message:
    return in_tenant(env, lambda: Message.objects.get(transaction_id=transaction_id))


def exceptions(env: Any, transaction_ids: list[str]) -> list[MessageException]:
    return in_tenant(
        env,
        lambda: list(
            MessageException.objects.filter(
                message__transaction_id__in=transaction_ids,
                category__in=[ExceptionCategory.DUPLICATE, ExceptionCategory.SUSPECTED_DUPLICATE],
            ).select_related("message")
        ),
    )


def replies(env: Any, transaction_ids: list[str]) -> dict[str, StatusReply]:
    return in_tenant(
        env,
        lambda: {
            r.message.transaction_id: r
            for r in StatusReply.objects.filter(
                message__transaction_id__in=transaction_ids
            ).select_related("message")
        },
    )


def sandbox_statuses(env: Any, transaction_id: str) -> list[tuple[str, str]]:
    env.sb.store.commit_sync()
    rows = env.sb.store.query(
        "SELECT level, message FROM status_messages WHERE sender_id = ? AND transaction_id = ?",
        (ACME, transaction_id),
    )
    return [(r["level"], r["message"]) for r in rows]


def pushed(env: Any, path: str, mine: set[str]) -> list[str]:
    """Our transactions pushed to the endpoint at ``path`` (the endpoint also gets earlier
    tests' events that were published after it was made)."""
    got = [e["data"]["transaction_id"] for e, ok, _ in env.client.events(path) if ok]
    return [t for t in got if t in mine]


def counted(kind: str) -> float:
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            wanted = {"kind": kind, "interface": "IF-021"}
            if sample.name == "dcp_inbound_duplicates_total" and sample.labels == wanted:
                return float(sample.value)
    return 0.0


def set_policy(env: Any, *, deliver: bool) -> None:
    in_tenant(
        env,
        lambda: duplicates.set_duplicate_policy(
            deliver_content_duplicates=deliver, actor=admin(env)
        ),
    )


def test_reused_reference_under_a_new_transaction_is_rejected_with_rcp1006(
    env: Any, host_client: Any
) -> None:
    path = f"/dup/{uuid.uuid4().hex[:6]}"
    endpoint_id, env.client.secret = make_endpoint(env, path)
    first, second = txn(), txn()
    item = delivered_item(first, mpan=make_mpan_core(random.Random()))
    before = counted("reference")
    deliver(env, item, new_transaction(item, second))  # both acknowledged (201)
    process(env, [first, second], endpoint_id)
    stop_endpoint(env, endpoint_id)
    assert counted("reference") == before + 1

    original, repeat = message(env, first), message(env, second)
    assert original.state == "delivered" and not original.is_duplicate
    assert repeat.state == "rejected" and repeat.withheld and repeat.is_duplicate
    assert repeat.duplicate_of_id == original.pk
    assert repeat.payload_digest == original.payload_digest != ""
    assert [f["code"] for f in repeat.findings] == ["RCP1006"]

    found = exceptions(env, [first, second])
    assert len(found) == 1
    (exc,) = found
    assert (exc.message.transaction_id, exc.category, exc.code) == (second, "duplicate", "RCP1006")
    assert exc.details["original"] == str(original.public_id)
    assert exc.details["kind"] == "reference"

    got = replies(env, [first, second])
    assert got[second].code == "RCP1006" and got[second].state == "sent"
    assert got[first].code == "RCP0000"  # the original's own status follows the reply policy
    assert sum(r.code == "RCP1006" for r in got.values()) == 1
    seen = sandbox_statuses(env, second)
    assert len(seen) == 1 and seen[0][0] == "L4" and seen[0][1].startswith("RCP1006")
    assert not any(m.startswith("RCP1006") for _, m in sandbox_statuses(env, first))

    assert pushed(env, path, {first, second}) == [first]  # the repeat never reaches the client
    states = in_tenant(
        env,
        lambda: set(
            EndpointDelivery.objects.filter(
                endpoint_id=endpoint_id, event__message__transaction_id=second
            ).values_list("state", flat=True)
        ),
    )
    assert states == {"withheld"}

    page = host_client(env.tenant, in_tenant(env, lambda: admin(env)))
    shown = page.get(f"/messages/{repeat.public_id}/").content.decode()
    assert f"/messages/{original.public_id}/" in shown and "withheld from your systems" in shown


def test_the_copy_processed_first_still_leaves_exactly_one_processed(env: Any) -> None:
    first, second, third = txn(), txn(), txn()
    item = delivered_item(first, mpan=make_mpan_core(random.Random()))
    deliver(env, item, new_transaction(item, second), new_transaction(item, third))
    process(env, [third, second, first])  # reverse order: later copies are processed first

    states = {t: message(env, t) for t in (first, second, third)}
    assert states[first].state == "validated" and not states[first].withheld
    for t in (second, third):
        assert states[t].state == "rejected" and states[t].duplicate_of_id == states[first].pk
    got = replies(env, [first, second, third])
    assert sorted(r.code for r in got.values()) == ["RCP0000", "RCP1006", "RCP1006"]
    assert len(exceptions(env, [first, second, third])) == 2


def test_copies_processed_at_once_by_two_workers_leave_one_processed(env: Any) -> None:
    pairs = []
    for _ in range(4):
        first, second = txn(), txn()
        item = delivered_item(first, mpan=make_mpan_core(random.Random()))
        deliver(env, item, new_transaction(item, second))
        pairs.append((first, second))
    ids = in_tenant(
        env,
        lambda: dict(
            Message.objects.filter(transaction_id__in=[t for p in pairs for t in p]).values_list(
                "transaction_id", "id"
            )
        ),
    )
    start = threading.Barrier(2)

    def worker(transaction_ids: list[str]) -> None:
        try:
            with tenant_context(env.tenant):
                for t in transaction_ids:
                    start.wait(timeout=10)
                    tasks.process_messages([ids[t]])
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:  # each pair: one copy per worker, at once
        done = [
            pool.submit(worker, [p[0] for p in pairs]),
            pool.submit(worker, [p[1] for p in pairs]),
        ]
        for f in done:
            f.result()
    for first, second in pairs:
        got = sorted((message(env, first).state, message(env, second).state))
        assert got == ["rejected", "validated"], (first, second, got)
        codes = sorted(r.code for r in replies(env, [first, second]).values())
        assert codes == ["RCP0000", "RCP1006"]
        assert len(exceptions(env, [first, second])) == 1


def test_same_transaction_redelivered_is_idempotent_and_gets_no_rcp1006(env: Any) -> None:
    t = txn()
    body = serialise_batch([delivered_item(t, mpan=make_mpan_core(random.Random()))])
    assert post(env, body).status_code == post(env, body).status_code == 201
    assert in_tenant(env, lambda: Message.objects.filter(transaction_id=t).count()) == 1

    def run() -> None:  # the task as the webhook's nudge sends it: with the receipts
        with tenant_context(env.tenant):
            receipts = InboundReceipt.objects.filter(duplicate_transaction_ids__contains=[t])
            pk = Message.objects.get(transaction_id=t).pk
            tasks.process_messages([pk], receipt_ids=list(receipts.values_list("id", flat=True)))
            status.send_due_status_replies()

    in_tenant(env, run)
    m = message(env, t)
    assert m.state == "validated" and m.duplicate_count == 1 and m.duplicate_of_id is None
    (exc,) = exceptions(env, [t])
    assert (exc.category, exc.code, exc.details["kind"]) == (
        "duplicate",
        "redelivered",
        "transaction",
    )
    assert replies(env, [t])[t].code == "RCP0000"
    assert not any(msg.startswith("RCP1006") for _, msg in sandbox_statuses(env, t))


def test_content_duplicates_are_flagged_and_delivered_or_held_per_tenant(env: Any) -> None:
    path = f"/dup/{uuid.uuid4().hex[:6]}"
    endpoint_id, env.client.secret = make_endpoint(env, path)
    mpan = make_mpan_core(random.Random())
    a, b, c, d = txn(), txn(), txn(), txn()
    original = delivered_item(a, mpan=mpan)
    started = timezone.now()

    # Default: delivered, flagged.
    before = counted("content")
    deliver(env, original, renamed(original, delivered_item(b, mpan=mpan)))
    process(env, [a, b], endpoint_id)
    assert counted("content") == before + 1
    first, again = message(env, a), message(env, b)
    assert again.sender_unique_reference != first.sender_unique_reference
    assert again.state == "delivered" and again.is_duplicate and not again.withheld
    assert again.duplicate_of_id == first.pk and again.payload_digest == first.payload_digest
    (exc,) = exceptions(env, [a, b])
    assert exc.category == "suspected_duplicate" and exc.message.transaction_id == b
    assert exc.details["original"] == str(first.public_id) and exc.details["held"] is False
    assert replies(env, [b])[b].code == "RCP0000"  # valid references: no RCP1006
    assert not any(m.startswith("RCP1006") for _, m in sandbox_statuses(env, b))

    # Held: not delivered, and a later message for the same MPAN is not held back by it.
    set_policy(env, deliver=False)
    try:
        other = delivered_item(d, mpan=mpan)
        deliver(env, renamed(original, delivered_item(c, mpan=mpan)), other)
        process(env, [c, d], endpoint_id)
    finally:
        set_policy(env, deliver=True)
    stop_endpoint(env, endpoint_id)
    held = message(env, c)
    assert held.state == "validated" and held.withheld and held.duplicate_of_id == first.pk
    flagged = {e.message.transaction_id: e for e in exceptions(env, [a, b, c, d])}
    assert set(flagged) == {b, c} and flagged[c].details["held"] is True
    assert message(env, d).state == "delivered" and not message(env, d).is_duplicate
    assert sorted(pushed(env, path, {a, b, c, d})) == sorted([a, b, d])

    counts = in_tenant(env, lambda: dashboard.summary(hours=1)["duplicates"])
    mine = in_tenant(
        env,
        lambda: dashboard.duplicates(since=started),
    )
    assert mine["suspected"] >= 2 and mine["held"] >= 1
    assert counts["suspected"] >= mine["suspected"]


def test_the_pull_feed_leaves_out_withheld_duplicates(env: Any) -> None:
    def last_seq() -> int:
        publish_feed_events()
        return FeedEvent.objects.aggregate(m=Max("seq"))["m"] or 0

    before = in_tenant(env, last_seq)
    first, second = txn(), txn()
    item = delivered_item(first, mpan=make_mpan_core(random.Random()))
    deliver(env, item, new_transaction(item, second))
    process(env, [first, second])
    consumer = f"puller-{uuid.uuid4().hex[:6]}@inbound.example"

    def pull() -> list[str]:
        page = feed.read(consumer=consumer, after=before, limit=500)
        feed.read(consumer=consumer, after=page.next)  # acknowledge the page
        return [e["data"]["transaction_id"] for e in page.events]

    seen = in_tenant(env, pull)
    assert first in seen and second not in seen
    assert message(env, first).state == "delivered"
    assert message(env, second).state == "rejected"  # withheld: never counted as delivered
