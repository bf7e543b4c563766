"""Alert rules: evaluated per tenant by ``console.evaluate_alerts`` (fanned out every minute
by ``console.alerts_dispatch``). A breach opens one Alert per rule until someone acknowledges
it; each new alert is sent to the rule's e-mail addresses and webhook after commit."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

import httpx
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from audit.services import record
from console import dashboard
from console.models import Alert, AlertRule
from dcp.net.http import guarded_post
from messaging.models import Message, MessageException
from messaging.states import FAILURE_STATES
from tenants.models import User

logger = logging.getLogger(__name__)


def check(rule: AlertRule) -> str | None:
    """The breach text, or None when the rule holds."""
    now = timezone.now()
    since = now - timedelta(minutes=rule.window_minutes)
    msgs = Message.objects.filter(created__gte=since)
    if rule.interface_id:
        msgs = msgs.filter(interface_id=rule.interface_id)
    kind = rule.kind
    if kind == AlertRule.Kind.FAILURE_RATE:
        n = msgs.filter(state__in=FAILURE_STATES).count()
        return f"{n} failed messages in {rule.window_minutes} min" if n > rule.threshold else None
    if kind == AlertRule.Kind.EXCEPTION_SPIKE:
        n = MessageException.objects.filter(opened_at__gte=since).count()
        return f"{n} new exceptions in {rule.window_minutes} min" if n > rule.threshold else None
    if kind == AlertRule.Kind.QUIET_CHANNEL:
        return None if msgs.exists() else f"no messages for {rule.window_minutes} min"
    if kind == AlertRule.Kind.RESPONSE_TIME:
        bad = [
            lat
            for lat in dashboard.latencies(
                since=now - timedelta(hours=1), interface_id=rule.interface_id
            )
            if not lat.compliant
        ]
        if not bad:
            return None
        worst = max(bad, key=lambda lat: lat.p90 / lat.p90_limit)
        return (
            f"{worst.interface_id} {worst.kind}: mean {worst.mean:.1f} s, "
            f"p90 {worst.p90:.1f} s (limits {worst.mean_limit}/{worst.p90_limit} s)"
        )
    if kind == AlertRule.Kind.ENDPOINT_PAUSED:
        from messaging.inbound.models import ClientEndpoint

        names = list(
            ClientEndpoint.objects.filter(state=ClientEndpoint.State.PAUSED).values_list(
                "name", flat=True
            )
        )
        return f"paused client endpoint(s): {', '.join(names)}" if names else None
    if kind == AlertRule.Kind.CERTIFICATE_EXPIRY:
        from certificates.models import Certificate

        soon = Certificate.objects.filter(
            not_after__lte=now + timedelta(days=rule.threshold or 30),
            not_after__gte=now,
            retired_at__isnull=True,
            revoked_at__isnull=True,
        ).count()
        return f"{soon} certificate(s) expire within {rule.threshold or 30} days" if soon else None
    return None


def evaluate() -> list[Alert]:
    fired: list[Alert] = []
    for rule in AlertRule.objects.filter(enabled=True):
        try:
            breach = check(rule)
        except Exception:
            logger.exception("alert rule %s failed to evaluate", rule.pk)
            continue
        if breach is None:
            continue
        if rule.alerts.filter(acknowledged_at__isnull=True).exists():
            continue  # still open: do not notify again until acknowledged
        with transaction.atomic():
            alert = Alert.objects.create(rule=rule, fired_at=timezone.now(), summary=breach[:500])
            transaction.on_commit(partial(notify, alert))
        fired.append(alert)
    return fired


def notify(alert: Alert) -> None:
    rule = alert.rule
    sent: dict[str, str] = {}
    emails = [e.strip() for e in rule.emails.split(",") if e.strip()]
    if emails:
        try:
            send_mail(f"[OpenDCP] {rule.name}", alert.summary, None, emails)
            sent["email"] = "sent"
        except Exception as exc:
            sent["email"] = f"failed: {exc}"[:200]
    if rule.webhook_url:
        try:
            resp = guarded_post(  # SSRF guard: the address connected to is checked
                rule.webhook_url,
                json={
                    "rule": rule.name,
                    "kind": rule.kind,
                    "summary": alert.summary,
                    "fired_at": alert.fired_at.isoformat(),
                    "alert_id": alert.pk,
                },
                timeout=5.0,
            )
            sent["webhook"] = str(resp.status_code)
        except httpx.HTTPError as exc:
            sent["webhook"] = f"failed: {exc}"[:200]
    Alert.objects.filter(pk=alert.pk).update(notified=sent)


def acknowledge(*, alert: Alert, user: User) -> Alert:
    with transaction.atomic():
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = timezone.now(), user.email
            alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
            record(action="console.alert.acknowledged", actor=user, target=alert)
    return alert
