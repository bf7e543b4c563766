"""Demo and sandbox helpers (dev only): a signing certificate from the tenant's local CA for a
demo DIP ID, issued synchronously, and the local CA certificate the DIP sandbox must trust.
Run in the tenant's schema."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.utils import timezone

from dip import pki
from dip.backoff import NO_RETRY
from dip.client import DipClient, path_segment
from dip.signing import SigningIdentity

from . import services
from .models import Certificate, CertificateAuthority, Provider, Usage
from .selectors import NoCurrentCertificate, signing_identity_for


def ensure_signing_certificate(
    *, dip_id: str, common_name: str, environment: str = "UIT", actor: object = None
) -> tuple[Certificate, bool]:
    """A valid signing certificate for ``dip_id``: the one ``signing_identity_for`` would use,
    or a new one issued now by the local CA. Returns (certificate, created). Idempotent."""
    try:
        current = signing_identity_for(dip_id=dip_id, environment=environment)
    except NoCurrentCertificate:
        pass
    else:
        return Certificate.objects.get(pk=current.certificate_id), False
    pending = services.request_certificate(
        environment=environment,
        usage=Usage.SIGNING,
        dip_ids=[dip_id],
        common_name=common_name,
        provider=Provider.LOCAL_CA,
        actor=actor,
        enqueue=False,  # the local CA answers at once; no worker needed
    )
    return services.issue_pending(certificate_id=pending.pk, now=timezone.now()), True


def local_ca_pem(environment: str) -> str | None:
    """The tenant's local CA certificate (PEM) for ``environment``, if it has one. Never
    creates one: a tenant that has issued nothing has nothing for the DIP to trust."""
    ca = CertificateAuthority.objects.filter(environment=environment).first()
    if ca is None:
        return None
    pki.load_certificate(ca.certificate_pem)  # refuse to hand on anything unparseable
    return ca.certificate_pem


# --- the DIP sandbox trusts the tenants' local CAs (manage.py sync_trust_to_sandbox) ----------

SPEC_PREFIX = "/v2.2.1"  # the edition with a read-only, signed GET to probe with


@dataclass(frozen=True)
class TrustResult:
    tenant: str
    environment: str
    fingerprint: str  # of the local CA; "" when the tenant has none
    outcome: str  # trusted | uploaded | no_local_ca | failed
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


def _probe_identity(environment: str) -> tuple[str, SigningIdentity] | None:
    """A DIP ID and a live signing certificate issued by this tenant's local CA."""
    now = timezone.now()
    cert = (
        Certificate.objects.select_related("private_key")
        .filter(
            environment=environment,
            provider=Provider.LOCAL_CA,
            usage__in=(Usage.SIGNING, Usage.SIGNING_AND_MTLS),
            state__in=Certificate.LIVE_STATES,
            not_before__lte=now,
            not_after__gt=now,
        )
        .exclude(dip_ids=[])
        .order_by("-not_after")
        .first()
    )
    if cert is None:
        return None
    key = services.load_key(cert.private_key)
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    return cert.dip_ids[0], SigningIdentity(key, pki.load_certificate(cert.certificate_pem))


def _api_key(dip_id: str, environment: str) -> str:
    from participants.models import DipId
    from participants.services.api_keys import key_for_sending

    row = DipId.objects.filter(value=dip_id, environment=environment).first()
    return (key_for_sending(dip_id=row) if row is not None else None) or settings.DIP_DCP_API_KEY


def probe_trust(base_url: str, environment: str) -> tuple[bool | None, str]:
    """Does the DIP at ``base_url`` accept signatures by this tenant's local CA? A signed,
    read-only call (v2.2.1 status requeue status) as one of its DIP IDs: a 403
    ``certificate_untrusted`` means no; anything past the signature check means yes; None
    when it cannot be told (no live certificate, unknown API key, DIP unreachable)."""
    probe = _probe_identity(environment)
    if probe is None:
        return None, "no live local-CA signing certificate to probe with"
    dip_id, identity = probe
    client = DipClient(
        base_url=base_url.rstrip("/") + SPEC_PREFIX,
        api_key=_api_key(dip_id, environment),
        identity=identity,
        retry=NO_RETRY,
        timeout=10.0,
    )
    with client:
        result = client.request("GET", f"/statusmessage/requeueStatus/{path_segment(dip_id)}")
    if result.status_code is None:
        return None, result.error or "no answer"
    if result.status_code == 401:
        return None, f"the DIP does not know the API key of {dip_id}"
    if result.status_code == 403 and b"certificate_untrusted" in result.content:
        return False, f"{dip_id}: certificate_untrusted"
    if result.status_code == 403 and b"Signature Invalid" in result.content:
        return None, f"{dip_id}: {result.content[:300]!r}"
    return True, f"{dip_id}: HTTP {result.status_code}"


def sync_trust_to_sandbox(
    *, base_url: str, admin_token: str, slug: str | None = None
) -> list[TrustResult]:
    """Upload each active client tenant's local CA certificate to the DIP sandbox as a trust
    root (admin API ``PUT /admin/trust-roots``), for the sandbox's environment. Skips CAs the
    sandbox already trusts (probed with a signed call), so running it again changes nothing.
    Dev and demo only: a real DIP trusts what is registered in its portal."""
    from django_tenants.utils import tenant_context

    from tenants.models import Tenant

    admin = {"X-Admin-Token": admin_token}
    base = base_url.rstrip("/")
    registry = httpx.get(f"{base}/admin/registry", headers=admin, timeout=10)
    registry.raise_for_status()
    environment = str(registry.json().get("environment") or "UIT")
    tenants = Tenant.objects.filter(kind=Tenant.Kind.CLIENT, status=Tenant.Status.ACTIVE)
    if slug:
        tenants = tenants.filter(slug=slug)
    out: list[TrustResult] = []
    for tenant in tenants.order_by("slug"):
        with tenant_context(tenant):
            out.append(_sync_one(tenant.slug, environment, base, admin))
    return out


def _sync_one(slug: str, environment: str, base: str, admin: dict[str, str]) -> TrustResult:
    pem = local_ca_pem(environment)
    if pem is None:
        return TrustResult(slug, environment, "", "no_local_ca")
    fingerprint = CertificateAuthority.objects.get(environment=environment).fingerprint_sha256
    trusted, detail = probe_trust(base, environment)
    if trusted:
        return TrustResult(slug, environment, fingerprint, "trusted", detail)
    answer = httpx.put(f"{base}/admin/trust-roots", headers=admin, json={"pem": pem}, timeout=10)
    if answer.status_code != 200:
        detail = f"HTTP {answer.status_code} {answer.text[:200]}"
        return TrustResult(slug, environment, fingerprint, "failed", detail)
    trusted, detail = probe_trust(base, environment)
    if trusted is False:
        return TrustResult(slug, environment, fingerprint, "failed", f"still refused: {detail}")
    return TrustResult(slug, environment, fingerprint, "uploaded", detail)
