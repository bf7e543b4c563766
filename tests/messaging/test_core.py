"""The message store core: raw bytes, the state machine, transitions, feed sequencing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

from messaging import services
from messaging.models import FeedEvent, Message, MessageException
from messaging.selectors import feed_after, timeline
from messaging.states import Direction, State, can_move

pytestmark = pytest.mark.django_db


def _new(direction=Direction.OUTBOUND, **kw):
    raw = services.store_raw(kw.pop("body", b'{"payload": {}}'))
    defaults = dict(
        direction=direction,
        environment="UIT",
        interface_id="IF-021",
        dip_id="2309010001",
        raw=raw,
        mpan_core="1200023305967",
    )
    defaults.update(kw)
    return services.create_messages([services.NewMessage(**defaults)], actor="test")[0]


def test_raw_is_hash_addressed_and_exact(tenant_a):
    with tenant_context(tenant_a):
        data = b'\xef\xbb\xbf[{"payload": 1}]\n'
        first, second = services.store_raw(data), services.store_raw(data)
        assert first.pk == second.pk and first.size == len(data)
        assert services.raw_bytes(first) == data


def test_outbound_happy_path_and_timeline(tenant_a):
    with tenant_context(tenant_a):
        m = _new(sender_unique_reference="SUR-1")
        for state in (State.VALIDATED, State.QUEUED, State.SENT, State.ACCEPTED, State.SETTLED):
            assert services.transition(m, state, actor="test", reason=f"to {state}")
        assert services.is_final(m)
        steps = [(t.from_state, t.to_state) for t in timeline(m)]
        assert steps[0] == ("", "received") and steps[-1] == ("accepted", "settled")
        with pytest.raises(services.IllegalTransition):
            services.transition(m, State.QUEUED, actor="test")


def test_lost_race_changes_nothing(tenant_a):
    with tenant_context(tenant_a):
        m = _new()
        stale = Message.objects.get(pk=m.pk)
        assert services.transition(m, State.VALIDATED, actor="worker-1")
        assert not services.transition(stale, State.VALIDATED, actor="worker-2")
        assert m.transitions.count() == 2


def test_state_machine_shape():
    assert can_move("outbound", "sent", "queued")  # retry
    assert not can_move("outbound", "settled", "queued")
    assert not can_move("inbound", "received", "sent")
    assert can_move("inbound", "validated", "delivered")


def test_inbound_duplicate_transaction_is_refused_by_the_database(tenant_a):
    with tenant_context(tenant_a):
        _new(Direction.INBOUND, transaction_id="T-1")
        with pytest.raises(IntegrityError), transaction.atomic():
            _new(Direction.INBOUND, transaction_id="T-1", body=b"other")


def test_feed_sequence_follows_publication_and_never_skips(tenant_a):
    with tenant_context(tenant_a):
        inbound = [
            _new(Direction.INBOUND, transaction_id=f"T-{i}", body=str(i).encode()) for i in range(3)
        ]
        out = _new(sender_unique_reference="SUR-9")
        services.transition(out, State.VALIDATED, actor="t")
        services.transition(out, State.QUEUED, actor="t")
        services.transition(out, State.SENT, actor="t")  # notify state → feed event
        assert FeedEvent.objects.filter(seq__isnull=True).count() == 4
        events = feed_after(0)
        assert [e.seq for e in events] == [1, 2, 3, 4]
        assert [e.message_id for e in events[:3]] == [m.pk for m in inbound]
        assert events[3].kind == FeedEvent.Kind.STATUS_CHANGED
        assert events[3].payload["state"] == "sent"
        assert feed_after(4) == []
        assert services.publish_feed_events() == 0  # idempotent


def test_exceptions_are_categorised_and_deduplicated(tenant_a):
    with tenant_context(tenant_a):
        m = _new()
        a = services.open_exception(m, category="schema", code="MSG1001", summary="bad")
        b = services.open_exception(m, category="schema", code="MSG1001", summary="bad again")
        assert a.pk == b.pk
        with pytest.raises(ValueError):
            services.open_exception(m, category="nonsense", summary="x")
        assert services.resolve_exceptions(m, by="ops@example", resolution="fixed") == 1
        assert MessageException.objects.get(pk=a.pk).status == "resolved"
