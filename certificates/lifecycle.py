"""The daily scan and renewal: expire, switch over, renew at the lead time, alert.

``scan`` only touches the database and returns what needs a provider call (renewals, pending
collections); the task enqueues those so a slow or failing provider never blocks the scan and
is retried with backoff on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, record

from . import services
from .alerts import raise_alert, severity_for
from .models import Alert, Certificate, DomainVerification, Provider
from .providers import ProviderError
from .selectors import successor_of

State = Certificate.State
SYSTEM = Actor.system("certificates")


@dataclass
class ScanReport:
    expired: list[int] = field(default_factory=list)
    switched: list[int] = field(default_factory=list)
    to_renew: list[int] = field(default_factory=list)
    to_collect: list[int] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


def scan(*, now: datetime | None = None) -> ScanReport:
    at = now or timezone.now()
    report = ScanReport()
    lead = timedelta(days=settings.CERTIFICATES_RENEWAL_LEAD_DAYS)
    for cert in Certificate.objects.filter(state__in=Certificate.LIVE_STATES, not_after__lte=at):
        with transaction.atomic():
            cert.state = State.EXPIRED
            cert.save(update_fields=["state", "updated"])
            record(action="certificates.expired", actor=SYSTEM, target=cert)
        report.expired.append(cert.pk)
    due = Certificate.objects.filter(
        state=State.NEXT, switch_over_at__lte=at, not_before__lte=at, not_after__gt=at
    )
    for cert in due.order_by("switch_over_at"):
        services.switch_over(certificate=cert, at=at)
        report.switched.append(cert.pk)
    for cert in Certificate.objects.filter(state=State.RETIRING, retired_at__isnull=True):
        cert.retired_at = at
        cert.save(update_fields=["retired_at", "updated"])
    for cert in Certificate.objects.filter(state=State.ACTIVE):
        if successor_of(cert) is not None:
            continue
        assert cert.not_after is not None
        remaining = cert.not_after - at
        if remaining <= lead and cert.provider != Provider.IMPORTED:
            report.to_renew.append(cert.pk)
        key = _expiry_alert(cert, remaining)
        if key:
            report.alerts.append(key)
    report.to_collect = list(
        Certificate.objects.filter(state=State.PENDING)
        .exclude(provider_reference="")
        .values_list("pk", flat=True)
    )
    for domain in DomainVerification.objects.filter(expires_at__isnull=False):
        key = _domain_alert(domain, at)
        if key:
            report.alerts.append(key)
    return report


def _crossed(remaining: timedelta) -> int | None:
    crossed = [d for d in settings.CERTIFICATES_ALERT_DAYS if remaining <= timedelta(days=d)]
    return min(crossed) if crossed else None


def _expiry_alert(cert: Certificate, remaining: timedelta) -> str | None:
    threshold = _crossed(remaining)
    if threshold is None:
        return None
    key = f"expiry:{cert.pk}:{threshold}"
    days = max(remaining.days, 0)
    created = raise_alert(
        kind=Alert.Kind.EXPIRY,
        severity=severity_for(days),
        certificate=cert,
        threshold_days=threshold,
        dedupe_key=key,
        message=f"{cert} expires in {days} days ({cert.not_after:%Y-%m-%d %H:%M} UTC) "
        "and has no successor yet.",
    )
    return key if created else None


def _domain_alert(domain: DomainVerification, at: datetime) -> str | None:
    assert domain.expires_at is not None
    remaining = domain.expires_at - at
    threshold = _crossed(remaining)
    if threshold is None:
        return None
    key = f"domain_expiry:{domain.pk}:{int(domain.expires_at.timestamp())}:{threshold}"
    days = max(remaining.days, 0)
    created = raise_alert(
        kind=Alert.Kind.DOMAIN_EXPIRY,
        severity=severity_for(days),
        domain_verification=domain,
        threshold_days=threshold,
        dedupe_key=key,
        message=f"The verification of {domain.domain} ({domain.environment}) expires in "
        f"{days} days: re-verify it in GlobalSign Atlas before renewing certificates.",
    )
    return key if created else None


def renew_certificate(*, certificate_id: int, now: datetime | None = None) -> Certificate | None:
    """Create (or continue) the renewal of an active certificate: new key, same subject, SANs,
    usage and DIP IDs. Idempotent. On failure the old certificate stays active, the failure is
    recorded on it and alerted once per renewal; ProviderError is re-raised for retry."""
    at = now or timezone.now()
    cert = Certificate.objects.select_related("private_key").get(pk=certificate_id)
    if cert.state != State.ACTIVE or cert.provider == Provider.IMPORTED:
        return None
    successor = successor_of(cert)
    if successor is not None and successor.state != State.PENDING:
        return successor
    if successor is None:
        successor = services.request_certificate(
            environment=cert.environment,
            usage=cert.usage,
            dip_ids=cert.dip_ids,
            common_name=cert.requested_common_name,
            dns_names=cert.requested_dns_names,
            key_type=cert.private_key.key_type,
            provider=cert.provider,
            renewal_of=cert,
            actor=SYSTEM,
            enqueue=False,
        )
    cert.renewal_attempts += 1
    cert.last_renewal_attempt_at = at
    try:
        issued = services.issue_pending(certificate_id=successor.pk, now=at)
    except ProviderError as exc:
        cert.last_error = f"renewal failed: {exc}"[:2000]
        cert.save(update_fields=["renewal_attempts", "last_renewal_attempt_at", "last_error"])
        record(action="certificates.renewal_failed", actor=SYSTEM, target=cert, summary=str(exc))
        raise_alert(
            kind=Alert.Kind.RENEWAL_FAILED,
            severity=Alert.Severity.CRITICAL,
            certificate=cert,
            dedupe_key=f"renewal_failed:{cert.pk}:{successor.pk}",
            message=f"Renewing {cert} failed: {exc}. The current certificate stays active; "
            + ("retrying with backoff." if exc.retryable else "fix the request and renew again."),
        )
        raise
    cert.last_error = ""
    cert.save(update_fields=["renewal_attempts", "last_renewal_attempt_at", "last_error"])
    return issued
