"""Reads: which identity signs now, the inventory, and health per tenant and platform-wide."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from dcp import vault
from dip import pki
from dip.signing import SigningIdentity

from .models import Alert, Certificate, DomainVerification, Usage

State = Certificate.State
USAGES_FOR: dict[str, tuple[str, ...]] = {
    Usage.SIGNING: (Usage.SIGNING, Usage.SIGNING_AND_MTLS),
    Usage.MTLS_CLIENT: (Usage.MTLS_CLIENT, Usage.SIGNING_AND_MTLS),
    Usage.SIGNING_AND_MTLS: (Usage.SIGNING_AND_MTLS,),
}


class NoCurrentCertificate(LookupError):
    """No valid certificate for this DIP ID, environment and usage at this moment."""


@dataclass(frozen=True)
class CurrentIdentity:
    identity: SigningIdentity | None  # None only for EC (mTLS-only) keys
    fingerprint: str
    certificate_id: int
    certificate: x509.Certificate
    private_key: pki.PrivateKey
    chain_pem: str
    not_after: datetime


_cache: OrderedDict[tuple[str, int, str], CurrentIdentity] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def _rank(cert: Certificate, at: datetime) -> tuple[int, float]:
    """Lower is preferred: a 'next' past its switch-over, then 'active', then 'next' before
    its switch-over (only when no active is valid), then 'retiring'. Ties: latest expiry."""
    if cert.state == State.NEXT and cert.switch_over_at is not None and cert.switch_over_at <= at:
        order = 0
    elif cert.state == State.ACTIVE:
        order = 1
    elif cert.state == State.NEXT:
        order = 2
    else:
        order = 3
    assert cert.not_after is not None
    return order, -cert.not_after.timestamp()


def signing_identity_for(
    *, dip_id: str, environment: str, usage: str = "signing", at: datetime | None = None
) -> CurrentIdentity:
    """The key and certificate to use for ``dip_id`` at ``at`` (default now). Never returns a
    certificate that is expired, not yet valid or revoked; prefers 'active' over 'next' until
    the next certificate's switch-over moment. Raises NoCurrentCertificate."""
    moment = at or timezone.now()
    candidates = Certificate.objects.select_related("private_key").filter(
        environment=environment,
        dip_ids__contains=[dip_id],
        usage__in=USAGES_FOR.get(usage, (usage,)),
        state__in=Certificate.LIVE_STATES,
        not_before__lte=moment,
        not_after__gt=moment,
    )
    ordered = sorted(candidates, key=lambda c: _rank(c, moment))
    if not ordered:
        raise NoCurrentCertificate(
            f"no valid {usage} certificate for DIP ID {dip_id} in {environment} at {moment:%c}"
        )
    return _identity(ordered[0])


def _identity(cert: Certificate) -> CurrentIdentity:
    key = (getattr(connection, "schema_name", ""), cert.pk, cert.fingerprint_sha256)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    row = cert.private_key
    private_key = pki.load_private_key(vault.unseal(row.sealed_pem, context=row.vault_context))
    certificate = pki.load_certificate(cert.certificate_pem)
    identity = (
        SigningIdentity(private_key, certificate)
        if isinstance(private_key, rsa.RSAPrivateKey)
        else None
    )
    assert cert.not_after is not None
    current = CurrentIdentity(
        identity=identity,
        fingerprint=cert.fingerprint_sha256,
        certificate_id=cert.pk,
        certificate=certificate,
        private_key=private_key,
        chain_pem=cert.chain_pem,
        not_after=cert.not_after,
    )
    with _cache_lock:
        _cache[key] = current
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return current


def certificate_list(
    *, environment: str = "", state: str = "", dip_id: str = "", query: str = ""
) -> QuerySet[Certificate]:
    qs = Certificate.objects.all()
    if environment:
        qs = qs.filter(environment=environment)
    if state:
        qs = qs.filter(state=state)
    if dip_id:
        qs = qs.filter(dip_ids__contains=[dip_id])
    if query:
        qs = qs.filter(
            Q(subject__icontains=query)
            | Q(requested_common_name__icontains=query)
            | Q(fingerprint_sha256__istartswith=query.replace(":", "").lower())
            | Q(serial__iexact=query)
        )
    return qs


def successor_of(cert: Certificate) -> Certificate | None:
    return cert.renewals.filter(state__in=[State.PENDING, State.NEXT, State.ACTIVE]).first()


@dataclass
class Health:
    """One tenant's certificate health. ``status``: ok, warning or critical."""

    status: str = "ok"
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    expiring: list[Certificate] = field(default_factory=list)
    failing: list[Certificate] = field(default_factory=list)
    domains_expiring: list[DomainVerification] = field(default_factory=list)
    open_alerts: int = 0

    def _raise(self, level: str, problem: str) -> None:
        order = ["ok", "warning", "critical"]
        if order.index(level) > order.index(self.status):
            self.status = level
        self.problems.append(problem)


def health(*, now: datetime | None = None) -> Health:
    at = now or timezone.now()
    lead = timedelta(days=settings.CERTIFICATES_RENEWAL_LEAD_DAYS)
    report = Health()
    for row in Certificate.objects.values("state").order_by():
        report.counts[row["state"]] = report.counts.get(row["state"], 0) + 1
    live = Certificate.objects.filter(state__in=[State.ACTIVE, State.NEXT])
    for cert in live.filter(state=State.ACTIVE, not_after__lte=at + lead):
        if successor_of(cert) is None:
            report.expiring.append(cert)
            days = (cert.not_after - at).days if cert.not_after else 0
            level = "critical" if days <= 7 else "warning"
            report._raise(level, f"{cert} expires in {days} days with no successor")
    for cert in Certificate.objects.exclude(last_error="").exclude(
        state__in=[State.EXPIRED, State.REVOKED]
    ):
        report.failing.append(cert)
        report._raise("warning", f"{cert}: {cert.last_error[:200]}")
    for cert in Certificate.objects.filter(state=State.ACTIVE, not_after__lte=at):
        report._raise("critical", f"{cert} is past its expiry")
    report.domains_expiring = list(
        DomainVerification.objects.filter(expires_at__lte=at + lead).order_by("expires_at")
    )
    for domain in report.domains_expiring:
        report._raise("warning", f"domain verification {domain} expires soon")
    report.open_alerts = Alert.objects.filter(acknowledged_at__isnull=True).count()
    return report


@dataclass(frozen=True)
class TenantHealth:
    tenant: object
    health: Health


def platform_health(*, now: datetime | None = None) -> list[TenantHealth]:
    """Every client tenant's health (staff view, platform host). Worst first."""
    from django_tenants.utils import tenant_context

    from tenants.models import Tenant

    rows = []
    tenants = Tenant.objects.filter(kind=Tenant.Kind.CLIENT).exclude(
        status=Tenant.Status.OFFBOARDED
    )
    for tenant in tenants.order_by("name"):
        with tenant_context(tenant):
            rows.append(TenantHealth(tenant, health(now=now)))
    order = {"critical": 0, "warning": 1, "ok": 2}
    return sorted(rows, key=lambda r: order[r.health.status])
