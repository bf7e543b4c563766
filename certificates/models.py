"""Keys, certificates, local CAs, domain verifications and alerts of one tenant (client).

Private keys are stored sealed (``dcp.vault`` envelope encryption, bound to the row's ``uid``)
and are never rendered; the UI and API show fingerprints only. Certificate lifecycle states::

    pending ──issued──► next ──switch-over──► active ──superseded──► retiring
       │                 │                      │                        │
       └── failed        └──────── revoked ◄────┴──── expired ◄──────────┘

"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class Environment(models.TextChoices):
    """DIP environment tags (PROTOCOL.md §2.6) that certificates are issued for."""

    UIT = "UIT", "UIT (user integration testing)"
    PRD = "PRD", "PRD (production)"


class KeyType(models.TextChoices):
    RSA_2048 = "rsa-2048", "RSA 2048"
    RSA_3072 = "rsa-3072", "RSA 3072"
    EC_P256 = "ec-p256", "EC P-256 (mTLS only)"


class Usage(models.TextChoices):
    """What a certificate is used for. DIP signatures are RSA PKCS#1 v1.5 (§3.5), so EC keys
    can only serve mTLS; the same certificate may serve both (§3.7)."""

    SIGNING = "signing", "Message signing"
    MTLS_CLIENT = "mtls_client", "mTLS client"
    SIGNING_AND_MTLS = "signing_mtls", "Signing and mTLS client"


class Provider(models.TextChoices):
    LOCAL_CA = "local_ca", "Local CA"
    GLOBALSIGN = "globalsign", "GlobalSign Atlas"
    IMPORTED = "imported", "Imported"


class PrivateKey(models.Model):
    """A private key, sealed. Generated here or imported with a client's certificate."""

    class Source(models.TextChoices):
        GENERATED = "generated", "Generated"
        IMPORTED = "imported", "Imported"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key_type = models.CharField(max_length=10, choices=KeyType.choices)
    sealed_pem = models.TextField(help_text="Envelope-encrypted PKCS#8 PEM; never shown.")
    public_key_sha256 = models.CharField(max_length=64, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_key_type_display()} key {self.public_key_sha256[:16]}"

    @property
    def vault_context(self) -> str:
        return f"certificates.private-key:{self.uid}"


class CertificateAuthority(models.Model):
    """The local CA of one environment (sandbox, demo, tests). Its key is sealed."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    environment = models.CharField(max_length=4, choices=Environment.choices, unique=True)
    certificate_pem = models.TextField()
    sealed_key_pem = models.TextField()
    fingerprint_sha256 = models.CharField(max_length=64)
    revoked_serials = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Local CA {self.environment}"

    @property
    def vault_context(self) -> str:
        return f"certificates.local-ca:{self.uid}"


class Certificate(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        NEXT = "next", "Next"
        RETIRING = "retiring", "Retiring"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"
        FAILED = "failed", "Failed"

    LIVE_STATES = (State.ACTIVE, State.NEXT, State.RETIRING)

    environment = models.CharField(max_length=4, choices=Environment.choices)
    usage = models.CharField(max_length=12, choices=Usage.choices)
    # DIP IDs (DT-006, 10 characters) this certificate serves. Stored as values because the
    # participants app (DipId model) is being built concurrently; see docs/certificates.md.
    dip_ids = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    provider = models.CharField(max_length=12, choices=Provider.choices)
    provider_reference = models.CharField(max_length=200, blank=True)
    private_key = models.ForeignKey(PrivateKey, on_delete=models.PROTECT, related_name="+")
    requested_common_name = models.CharField(max_length=200)
    requested_dns_names = ArrayField(models.CharField(max_length=253), default=list, blank=True)
    csr_pem = models.TextField(blank=True)
    certificate_pem = models.TextField(blank=True)
    chain_pem = models.TextField(blank=True, help_text="Issuers above the certificate (PEM).")
    subject = models.CharField(max_length=500, blank=True)
    issuer = models.CharField(max_length=500, blank=True)
    sans = models.JSONField(default=list, blank=True)
    serial = models.CharField(max_length=64, blank=True, db_index=True)
    fingerprint_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    fingerprint_sha1 = models.CharField(max_length=40, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True, db_index=True)
    renewal_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewals"
    )
    switch_over_at = models.DateTimeField(
        null=True, blank=True, help_text="When a 'next' certificate takes over signing."
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=40, blank=True)
    last_error = models.TextField(blank=True)
    renewal_attempts = models.PositiveIntegerField(default=0)
    last_renewal_attempt_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["environment", "-not_after", "-pk"]
        indexes = [models.Index(fields=["environment", "state"])]

    def __str__(self) -> str:
        name = self.subject or self.requested_common_name
        return f"{name} ({self.environment}, {self.get_state_display()})"

    @property
    def serves_signing(self) -> bool:
        return self.usage in (Usage.SIGNING, Usage.SIGNING_AND_MTLS)

    def days_left(self, at: object = None) -> int | None:
        if self.not_after is None:
            return None
        moment = at if at is not None else timezone.now()
        return (self.not_after - moment).days  # type: ignore[operator]


class DomainVerification(models.Model):
    """A GlobalSign Atlas domain claim: verified domains expire and must be re-asserted."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        EXPIRED = "expired", "Expired"

    environment = models.CharField(max_length=4, choices=Environment.choices)
    domain = models.CharField(max_length=253)
    claim_id = models.CharField(max_length=100, blank=True)
    token = models.CharField(max_length=200, blank=True, help_text="DNS TXT value to publish.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    verified_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["environment", "domain"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "domain"], name="cert_domain_unique")
        ]

    def __str__(self) -> str:
        return f"{self.domain} ({self.environment})"


class Alert(models.Model):
    """An in-app notification (also e-mailed). ``dedupe_key`` makes each alert happen once."""

    class Kind(models.TextChoices):
        EXPIRY = "expiry", "Certificate expiring"
        RENEWAL_FAILED = "renewal_failed", "Renewal failed"
        DOMAIN_EXPIRY = "domain_expiry", "Domain verification expiring"
        REVOKED = "revoked", "Certificate revoked"
        SWITCHED_OVER = "switched_over", "Certificate switched over"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    certificate = models.ForeignKey(
        Certificate, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    domain_verification = models.ForeignKey(
        DomainVerification, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    threshold_days = models.PositiveIntegerField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    message = models.CharField(max_length=500)
    emailed_to = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return self.message
