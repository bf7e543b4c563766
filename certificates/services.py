"""Writes: request (generate key + CSR), issue through a provider, import, switch over, revoke.

Every change is audited. Provider calls happen outside database transactions; a pending row
(with its sealed key and CSR) is written first, so retrying an issuance reuses the same key
and request and running it twice does no harm."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.services import Actor, record
from dcp import vault
from dcp.errors import invalid
from dip import pki
from dip.identifiers import check_dip_id

from . import crypto
from .alerts import raise_alert
from .models import Alert, Certificate, Environment, KeyType, PrivateKey, Provider, Usage
from .providers import Issued, IssueRequest, ProviderError, get_provider
from .providers.local_ca import local_ca_certificate

State = Certificate.State
AnyActor = Any  # tenants.models.User | audit.services.Actor | None


def _clean_dip_ids(dip_ids: Iterable[str]) -> list[str]:
    cleaned = sorted({d.strip() for d in dip_ids if d and d.strip()})
    for dip_id in cleaned:
        if check_dip_id(dip_id) is not None:
            raise invalid(
                f"{dip_id!r} is not a DIP ID (10 characters).",
                code="dip_id_invalid",
                field="dip_ids",
            )
    return cleaned


def _check_environment(environment: str) -> None:
    if environment not in Environment.values:
        raise invalid(
            f"Unknown environment {environment!r}.", code="environment_invalid", field="environment"
        )


def _organization() -> str:
    tenant = getattr(connection, "tenant", None)
    return str(getattr(tenant, "name", "") or "OpenDCP client")[:64]


def _store_key(key: pki.PrivateKey, *, source: str) -> PrivateKey:
    row = PrivateKey(key_type=crypto.key_type_of(key), source=source)
    row.public_key_sha256 = crypto.public_key_sha256(key)
    row.sealed_pem = vault.seal(crypto.key_to_pem(key), context=row.vault_context)
    row.save()
    return row


def load_key(row: PrivateKey) -> pki.PrivateKey:
    return pki.load_private_key(vault.unseal(row.sealed_pem, context=row.vault_context))


def slot_of(cert: Certificate) -> Any:
    """Certificates in the same slot replace each other: environment, usage, DIP IDs."""
    return Certificate.objects.filter(
        environment=cert.environment, usage=cert.usage, dip_ids=sorted(cert.dip_ids)
    ).exclude(pk=cert.pk)


def _install(cert: Certificate, issued: Issued, *, at: datetime) -> None:
    """Record an issued certificate's facts and decide: active (slot empty) or next."""
    leaf = pki.load_certificate(issued.certificate_pem)
    key = load_key(cert.private_key)
    if crypto.public_key_sha256(key) != crypto.public_key_sha256(leaf.public_key()):
        raise ProviderError("the issued certificate does not match our key", retryable=False)
    f = crypto.facts(leaf)
    cert.certificate_pem = issued.certificate_pem
    cert.chain_pem = issued.chain_pem
    cert.provider_reference = issued.reference
    cert.subject, cert.issuer, cert.sans, cert.serial = f.subject, f.issuer, f.sans, f.serial
    cert.fingerprint_sha256, cert.fingerprint_sha1 = f.fingerprint_sha256, f.fingerprint_sha1
    cert.not_before, cert.not_after = f.not_before, f.not_after
    cert.last_error = ""
    current = slot_of(cert).filter(state=State.ACTIVE, not_after__gt=at).order_by("-not_after")
    predecessor = current.first()
    if predecessor is None:
        cert.state, cert.activated_at = State.ACTIVE, at
    else:
        cert.state = State.NEXT
        if cert.renewal_of_id is None:
            cert.renewal_of = predecessor
        if cert.switch_over_at is None:
            delay = timedelta(hours=settings.CERTIFICATES_SWITCH_OVER_DELAY_HOURS)
            latest = (predecessor.not_after or at + delay) - timedelta(hours=1)
            cert.switch_over_at = max(min(at + delay, latest), f.not_before, at)
    cert.save()


def request_certificate(
    *,
    environment: str,
    usage: str,
    dip_ids: Sequence[str],
    common_name: str,
    dns_names: Sequence[str] = (),
    key_type: str = KeyType.RSA_2048,
    provider: str | None = None,
    renewal_of: Certificate | None = None,
    actor: AnyActor,
    enqueue: bool = True,
) -> Certificate:
    """Generate a key (sealed) and CSR, and record a pending certificate. The issuance itself
    runs in ``certificates.issue_certificate`` (enqueued after commit) via ``issue_pending``."""
    _check_environment(environment)
    if usage not in Usage.values:
        raise invalid(f"Unknown usage {usage!r}.", code="usage_invalid", field="usage")
    if key_type not in KeyType.values:
        raise invalid(f"Unknown key type {key_type!r}.", code="key_type_invalid", field="key_type")
    crypto.check_usage(key_type, usage)
    provider = provider or settings.CERTIFICATES_DEFAULT_PROVIDER.get(environment, "local_ca")
    if provider not in (Provider.LOCAL_CA, Provider.GLOBALSIGN):
        raise invalid("Choose a provider that issues.", code="provider_invalid", field="provider")
    common_name = common_name.strip()
    if not common_name:
        raise invalid("A common name is required.", code="required", field="common_name")
    names = [d.strip().lower() for d in dns_names if d.strip()]
    key = crypto.generate_key(key_type)
    with transaction.atomic():
        key_row = _store_key(key, source=PrivateKey.Source.GENERATED)
        cert = Certificate.objects.create(
            environment=environment,
            usage=usage,
            dip_ids=_clean_dip_ids(dip_ids),
            provider=provider,
            private_key=key_row,
            requested_common_name=common_name,
            requested_dns_names=names,
            csr_pem=crypto.build_csr(
                key=key, common_name=common_name, organization=_organization(), dns_names=names
            ),
            renewal_of=renewal_of,
        )
        record(
            action="certificates.requested",
            actor=actor,
            target=cert,
            summary=f"{cert.get_usage_display()} certificate requested from {provider}",
            changes={"key": key_row.public_key_sha256, "dip_ids": cert.dip_ids},
        )
        if enqueue:
            from .tasks import issue_certificate

            transaction.on_commit(lambda: issue_certificate.delay(cert.pk))
    return cert


def issue_pending(*, certificate_id: int, now: datetime | None = None) -> Certificate:
    """Ask the provider for a pending certificate (or collect it). Idempotent. Raises
    ProviderError; a permanent refusal marks the request failed."""
    at = now or timezone.now()
    cert = Certificate.objects.select_related("private_key").get(pk=certificate_id)
    if cert.state != State.PENDING:
        return cert
    provider = get_provider(cert.provider, cert.environment)
    try:
        if cert.provider_reference:
            issued = provider.retrieve(cert.provider_reference)
        else:
            validity = timedelta(days=settings.CERTIFICATES_VALIDITY_DAYS)
            outcome = provider.issue(
                IssueRequest(
                    csr_pem=cert.csr_pem,
                    common_name=cert.requested_common_name,
                    organization=_organization(),
                    dns_names=tuple(cert.requested_dns_names),
                    usage=cert.usage,
                    not_before=at - timedelta(minutes=5),
                    not_after=at + validity,
                )
            )
            issued = outcome if isinstance(outcome, Issued) else None
            if issued is None:
                cert.provider_reference = outcome.reference
                cert.save(update_fields=["provider_reference", "updated"])
    except ProviderError as exc:
        cert.last_error = str(exc)[:2000]
        if not exc.retryable:
            cert.state = State.FAILED
        cert.save(update_fields=["last_error", "state", "updated"])
        raise
    if issued is None:
        return cert
    with transaction.atomic():
        _install(cert, issued, at=at)
        record(
            action="certificates.issued",
            actor=Actor.system("certificates"),
            target=cert,
            summary=f"issued by {cert.get_provider_display()}, now {cert.state}",
            changes={"fingerprint": cert.fingerprint_sha256, "serial": cert.serial},
        )
    return cert


def import_certificate(
    *,
    environment: str,
    usage: str,
    dip_ids: Sequence[str],
    certificate_pem: str = "",
    key_pem: str = "",
    chain_pem: str = "",
    pkcs12: bytes = b"",
    password: str = "",
    actor: AnyActor,
    now: datetime | None = None,
) -> Certificate:
    """Import a client's own key and certificate (PEM or PKCS#12), fully validated."""
    at = now or timezone.now()
    _check_environment(environment)
    if usage not in Usage.values:
        raise invalid(f"Unknown usage {usage!r}.", code="usage_invalid", field="usage")
    if pkcs12:
        bundle = crypto.parse_pkcs12(pkcs12, password)
    elif certificate_pem and key_pem:
        bundle = crypto.parse_pem_bundle(
            certificate_pem=certificate_pem, key_pem=key_pem, chain_pem=chain_pem, password=password
        )
    else:
        raise invalid(
            "Give a PKCS#12 file, or a PEM certificate and its PEM private key.", code="required"
        )
    crypto.check_usage(crypto.key_type_of(bundle.key), usage)
    roots = [local_ca_certificate(environment)] if _has_local_ca(environment) else []
    crypto.validate_bundle(bundle, at=at, trust_roots=roots)
    fingerprint = crypto.facts(bundle.certificate).fingerprint_sha256
    if Certificate.objects.filter(fingerprint_sha256=fingerprint).exclude(
        state__in=[State.EXPIRED, State.REVOKED]
    ):
        raise invalid("This certificate is already in the inventory.", code="duplicate")
    with transaction.atomic():
        key_row = _store_key(bundle.key, source=PrivateKey.Source.IMPORTED)
        cert = Certificate(
            environment=environment,
            usage=usage,
            dip_ids=_clean_dip_ids(dip_ids),
            provider=Provider.IMPORTED,
            private_key=key_row,
            requested_common_name=bundle.certificate.subject.rfc4514_string()[:200],
        )
        issued = Issued(
            certificate_pem=crypto.to_pem([bundle.certificate]),
            chain_pem=crypto.to_pem(bundle.chain),
            reference=crypto.facts(bundle.certificate).serial,
        )
        _install(cert, issued, at=at)
        record(
            action="certificates.imported",
            actor=actor,
            target=cert,
            summary=f"imported, now {cert.state}",
            changes={"fingerprint": cert.fingerprint_sha256, "dip_ids": cert.dip_ids},
        )
    return cert


def _has_local_ca(environment: str) -> bool:
    from .models import CertificateAuthority

    return CertificateAuthority.objects.filter(environment=environment).exists()


def schedule_switch_over(
    *, certificate_id: int, at: datetime, actor: AnyActor, now: datetime | None = None
) -> Certificate:
    """Choose when a 'next' certificate takes over signing (in-flight sends finish first)."""
    moment = now or timezone.now()
    cert = Certificate.objects.get(pk=certificate_id)
    if cert.state != State.NEXT:
        raise invalid("Only a 'next' certificate can be scheduled.", code="state_invalid")
    assert cert.not_before is not None
    assert cert.not_after is not None
    if at < max(cert.not_before, moment - timedelta(minutes=1)) or at >= cert.not_after:
        raise invalid(
            "The switch-over must be inside the certificate's validity and not in the past.",
            code="switch_over_invalid",
            field="switch_over_at",
        )
    with transaction.atomic():
        previous = cert.switch_over_at
        cert.switch_over_at = at
        cert.save(update_fields=["switch_over_at", "updated"])
        record(
            action="certificates.switch_over_scheduled",
            actor=actor,
            target=cert,
            changes={"switch_over_at": [previous, at]},
        )
    return cert


def switch_over(*, certificate: Certificate, at: datetime, actor: AnyActor = None) -> None:
    """'next' → 'active'; the slot's previous active certificates → 'retiring'."""
    with transaction.atomic():
        retired = list(slot_of(certificate).filter(state=State.ACTIVE))
        for old in retired:
            old.state, old.retired_at = State.RETIRING, at
            old.save(update_fields=["state", "retired_at", "updated"])
        certificate.state, certificate.activated_at = State.ACTIVE, at
        certificate.switch_over_at = certificate.switch_over_at or at
        certificate.save(update_fields=["state", "activated_at", "switch_over_at", "updated"])
        record(
            action="certificates.switched_over",
            actor=actor or Actor.system("certificates"),
            target=certificate,
            summary=f"now active; retiring {', '.join(o.fingerprint_sha256[:16] for o in retired)}",
            changes={"retired": [o.pk for o in retired]},
        )
        raise_alert(
            kind=Alert.Kind.SWITCHED_OVER,
            severity=Alert.Severity.INFO,
            certificate=certificate,
            dedupe_key=f"switched_over:{certificate.pk}",
            message=f"{certificate} is now the active certificate.",
        )


def revoke_certificate(
    *, certificate_id: int, reason: str, actor: AnyActor, now: datetime | None = None
) -> Certificate:
    """Revoke at the provider (imported certificates: the client revokes with its CA) and
    take the certificate out of use; a valid 'next' certificate takes over at once."""
    at = now or timezone.now()
    cert = Certificate.objects.get(pk=certificate_id)
    if cert.state in (State.REVOKED, State.FAILED):
        return cert
    if cert.provider != Provider.IMPORTED and cert.provider_reference:
        get_provider(cert.provider, cert.environment).revoke(cert.provider_reference, reason=reason)
    was_active = cert.state == State.ACTIVE
    with transaction.atomic():
        cert.state, cert.revoked_at, cert.revocation_reason = State.REVOKED, at, reason[:40]
        cert.save(update_fields=["state", "revoked_at", "revocation_reason", "updated"])
        record(
            action="certificates.revoked",
            actor=actor,
            target=cert,
            summary=f"revoked ({reason})",
            changes={"fingerprint": cert.fingerprint_sha256},
        )
        successor = (
            slot_of(cert)
            .filter(state=State.NEXT, not_before__lte=at, not_after__gt=at)
            .order_by("-not_after")
            .first()
        )
        if was_active and successor is not None:
            switch_over(certificate=successor, at=at, actor=actor)
        raise_alert(
            kind=Alert.Kind.REVOKED,
            severity=Alert.Severity.CRITICAL
            if was_active and not successor
            else Alert.Severity.WARNING,
            certificate=cert,
            dedupe_key=f"revoked:{cert.pk}",
            message=f"{cert} was revoked ({reason})."
            + (" No replacement is active yet." if was_active and not successor else ""),
        )
    return cert


def acknowledge_alert(*, alert_id: int, actor: AnyActor) -> Alert:
    alert = Alert.objects.get(pk=alert_id)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["acknowledged_at"])
        record(action="certificates.alert_acknowledged", actor=actor, target=alert)
    return alert
