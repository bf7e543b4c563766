"""Retention purge: old final messages go; open exceptions, legal holds, protectors and
in-flight messages keep theirs; every run is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from audit.selectors import verify_chain
from messaging import services
from messaging.models import FeedEvent, Message, RawBody
from messaging.states import Direction, State
from retention import services as retention
from retention.models import LegalHold

pytestmark = pytest.mark.django_db
OLD_DAYS = 400  # "old": well past every policy below


def _msg(n, *, state=State.SETTLED, mpan="1200023305967", created=None, direction=None):
    created = created or timezone.now() - timedelta(days=OLD_DAYS)
    direction = direction or Direction.OUTBOUND
    raw = services.store_raw(f"body-{n}".encode())
    m = services.create_messages(
        [
            services.NewMessage(
                direction=direction,
                environment="UIT",
                interface_id="IF-021",
                dip_id="2309010001",
                raw=raw,
                mpan_core=mpan,
                state=state,
                transaction_id=f"T-{n}" if direction == Direction.INBOUND else "",
            )
        ],
        actor="test",
    )[0]
    Message.objects.filter(pk=m.pk).update(created=created)
    RawBody.objects.filter(pk=raw.pk).update(created=created)
    m.refresh_from_db()
    return m


@pytest.fixture
def short_policy(tenant_a):
    with tenant_context(tenant_a):
        retention.set_policy(raw_body_days=30, message_days=90, log_days=30, actor=None)
        yield


def _exists(m):
    return Message.objects.filter(pk=m.pk).exists()


def test_old_final_messages_go_and_everything_needed_stays(tenant_a, short_policy):
    with tenant_context(tenant_a):
        gone = _msg(1)
        gone_raw = gone.raw_id
        recent = _msg(2, created=timezone.now() - timedelta(days=10))
        in_flight = _msg(3, state=State.QUEUED)
        with_exception = _msg(4, state=State.REJECTED)
        services.open_exception(with_exception, category="rejected_by_dip", summary="no")
        resolved = _msg(5, state=State.REJECTED)
        services.open_exception(resolved, category="rejected_by_dip", summary="no")
        services.resolve_exceptions(resolved, by="op", resolution="fixed")

        result = retention.purge()

        assert not _exists(gone) and not _exists(resolved)
        assert _exists(recent) and _exists(in_flight) and _exists(with_exception)
        assert not RawBody.objects.filter(pk=gone_raw).exists()  # unreferenced and old
        assert RawBody.objects.filter(pk=in_flight.raw_id).exists()  # still referenced
        assert (result.messages, result.raw_bodies) == (2, 2)

        event = AuditEvent.objects.filter(action="retention.purge").first()
        assert event.changes["messages"] == 2 and event.changes["raw_bodies"] == 2
        assert verify_chain(tenant_a.schema_name).ok
        assert retention.purge().messages == 0  # idempotent


def test_legal_hold_by_mpan(tenant_a, short_policy):
    with tenant_context(tenant_a):
        held = _msg(1, mpan="1900000000008")
        other = _msg(2, mpan="1200023305967")
        hold = retention.place_hold(
            scope=LegalHold.Scope.MPAN, mpan_core="1900000000008", reason="dispute", actor=None
        )
        retention.purge()
        assert _exists(held) and not _exists(other)
        assert RawBody.objects.filter(pk=held.raw_id).exists()

        retention.release_hold(hold, actor=None, reason="settled")
        retention.purge()
        assert not _exists(held)


def test_legal_hold_by_date_range(tenant_a, short_policy):
    with tenant_context(tenant_a):
        inside = _msg(1, created=timezone.now() - timedelta(days=200))
        outside = _msg(2, created=timezone.now() - timedelta(days=300))
        day = (timezone.now() - timedelta(days=200)).date()
        retention.place_hold(
            scope=LegalHold.Scope.DATE_RANGE,
            date_from=day - timedelta(days=1),
            date_to=day + timedelta(days=1),
            reason="audit",
            actor=None,
        )
        retention.purge()
        assert _exists(inside) and not _exists(outside)


def test_legal_hold_on_everything_stops_the_purge(tenant_a, short_policy):
    with tenant_context(tenant_a):
        m = _msg(1)
        retention.place_hold(scope=LegalHold.Scope.ALL, reason="regulator request", actor=None)
        result = retention.purge()
        assert _exists(m) and result.skipped == "legal hold on everything"
        assert AuditEvent.objects.filter(action="retention.purge").first().changes["skipped"]


def test_hold_scope_must_be_complete(tenant_a):
    from django.db import IntegrityError, transaction

    with tenant_context(tenant_a), pytest.raises(IntegrityError), transaction.atomic():
        LegalHold.objects.create(scope=LegalHold.Scope.MPAN, reason="no mpan")


def test_protector_hook_keeps_messages(tenant_a, short_policy):
    with tenant_context(tenant_a):
        kept, gone = _msg(1), _msg(2)

        def evidence_packs(candidates):
            return candidates.filter(pk=kept.pk)

        retention.register_protector(evidence_packs)
        try:
            retention.purge()
        finally:
            retention.unregister_protector(evidence_packs)
        assert _exists(kept) and not _exists(gone)


def test_old_feed_events_are_purged_by_log_days(tenant_a, short_policy):
    with tenant_context(tenant_a):
        delivered = _msg(
            1,
            direction=Direction.INBOUND,
            state=State.DELIVERED,
            created=timezone.now() - timedelta(days=40),
        )
        services.publish_feed_events()
        FeedEvent.objects.filter(message=delivered).update(
            created=timezone.now() - timedelta(days=40)
        )
        result = retention.purge()
        assert result.feed_events == 1 and _exists(delivered)


def test_dispatch_fans_out_and_tenant_task_purges(tenant_a, short_policy):
    from dcp.celery import DispatchTask, TenantScopedTask
    from retention.tasks import purge_dispatch, purge_tenant

    assert isinstance(purge_dispatch, DispatchTask) and isinstance(purge_tenant, TenantScopedTask)
    with tenant_context(tenant_a):
        m = _msg(1)
        assert purge_tenant.run()["messages"] == 1
        assert not _exists(m)
