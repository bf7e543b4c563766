"""Alert rules: a breach opens one alert (not re-sent while open), e-mails and webhooks are
notified after commit, acknowledgement is audited; the beat task is a *_dispatch fan-out."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from console import alerts
from console.models import Alert, AlertRule
from console.tasks import alerts_dispatch
from messaging import services as core
from messaging.states import Direction, State
from tenants.roles import ClientRole
from tests.factories import member

pytestmark = pytest.mark.django_db


def _failed(n: int, tag: str) -> None:
    raw = core.store_raw(b"{}")
    msgs = core.create_messages(
        [
            core.NewMessage(
                direction=Direction.OUTBOUND,
                environment="UIT",
                interface_id="IF-021",
                dip_id="2309010001",
                raw=raw,
                sender_unique_reference=f"SUR-AL{tag}{i}",
            )
            for i in range(n)
        ],
        actor="test",
    )
    core.transition_many(msgs, State.FAILED, actor="test")


def test_failure_rule_fires_once_notifies_and_is_acknowledged(
    tenant_a, host_client, django_capture_on_commit_callbacks
):
    operator = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    with tenant_context(tenant_a):
        AlertRule.objects.create(
            name="IF-021 failures",
            kind=AlertRule.Kind.FAILURE_RATE,
            interface_id="IF-021",
            threshold=2,
            window_minutes=15,
            emails="ops@example.com",
            created_by="t",
        )
        quiet = AlertRule.objects.create(
            name="IF-099 quiet",
            kind=AlertRule.Kind.QUIET_CHANNEL,
            interface_id="IF-099",
            window_minutes=5,
            created_by="t",
        )
        _failed(2, "a")
        assert alerts.evaluate() == [Alert.objects.get(rule=quiet)]  # 2 is not above 2
        _failed(1, "b")
        with django_capture_on_commit_callbacks(execute=True):
            fired = alerts.evaluate()
        assert [a.rule.name for a in fired] == ["IF-021 failures"]
        assert "3 failed" in fired[0].summary
        assert mail.outbox and mail.outbox[-1].to == ["ops@example.com"]
        assert alerts.evaluate() == []  # still open: not raised again
    client = host_client(tenant_a, operator)
    assert client.get("/console/alerts/").status_code == 200
    assert client.post(f"/console/alerts/{fired[0].pk}/ack/").status_code == 302
    with tenant_context(tenant_a):
        fired[0].refresh_from_db()
        assert fired[0].acknowledged_by == operator.email
        assert AuditEvent.objects.filter(action="console.alert.acknowledged").exists()


def test_viewer_cannot_add_rules_or_acknowledge(tenant_a, host_client):
    viewer = member(tenant_a, ClientRole.CLIENT_VIEWER)
    client = host_client(tenant_a, viewer)
    resp = client.post(
        "/console/alerts/",
        {"name": "x", "kind": "failure_rate", "threshold": 1, "window_minutes": 5},
    )
    assert resp.status_code == 403
    with tenant_context(tenant_a):
        assert not AlertRule.objects.exists()


def test_alerts_are_scheduled_through_a_dispatch_task():
    entry = settings.CELERY_BEAT_SCHEDULE["console-alerts"]
    assert entry["task"] == alerts_dispatch.name and alerts_dispatch.name.endswith("_dispatch")
