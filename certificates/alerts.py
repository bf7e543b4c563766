"""In-app alerts, e-mailed to the tenant's client admins. Each alert happens once: its
``dedupe_key`` is unique (e.g. ``expiry:<certificate>:<threshold>``)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction

from .models import Alert, Certificate, DomainVerification

log = logging.getLogger(__name__)


def _admin_emails() -> list[str]:
    from tenants.models import Membership
    from tenants.roles import ClientRole

    tenant = getattr(connection, "tenant", None)
    if tenant is None or getattr(tenant, "is_platform", True):
        return []
    return sorted(
        Membership.objects.filter(
            tenant=tenant, role=ClientRole.CLIENT_ADMIN, user__is_active=True
        ).values_list("user__email", flat=True)
    )


def raise_alert(
    *,
    kind: str,
    severity: str,
    message: str,
    dedupe_key: str,
    certificate: Certificate | None = None,
    domain_verification: DomainVerification | None = None,
    threshold_days: int | None = None,
) -> Alert | None:
    """Create the alert unless one with this key exists; returns it only when new."""
    if Alert.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    recipients = _admin_emails()
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind,
                severity=severity,
                message=message[:500],
                dedupe_key=dedupe_key,
                certificate=certificate,
                domain_verification=domain_verification,
                threshold_days=threshold_days,
                emailed_to=recipients,
            )
    except IntegrityError:  # a concurrent scan raised it first
        return None
    if recipients:
        tenant_name = getattr(getattr(connection, "tenant", None), "name", "")
        subject = f"[OpenDCP] {tenant_name}: {alert.get_kind_display()}"
        transaction.on_commit(
            lambda: send_mail(
                subject, message, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=True
            )
        )
    log.warning("certificate alert %s: %s", dedupe_key, message)
    return alert


def severity_for(days_left: float) -> str:
    if days_left <= 7:
        return Alert.Severity.CRITICAL
    if days_left <= 30:
        return Alert.Severity.WARNING
    return Alert.Severity.INFO
