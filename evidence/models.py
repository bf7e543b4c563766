"""Evidence packs, the platform evidence key, and request→response pairs for reconciliation.

``evidence`` is both a shared and a tenant app: ``EvidenceKey`` is used in the public schema
only (one platform key), ``EvidencePack`` and ``InterfacePair`` in each tenant's schema."""

from __future__ import annotations

import uuid

from django.db import models


class EvidenceKey(models.Model):
    """The platform's evidence signing key (RSA), sealed with ``dcp.vault``. Public schema."""

    slot = models.PositiveSmallIntegerField(unique=True, default=1)
    key_id = models.CharField(max_length=80)  # "sha256:<hex of the DER public key>"
    public_key_pem = models.TextField()
    private_key_sealed = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"evidence key {self.key_id[:23]}"


class EvidencePack(models.Model):
    class Kind(models.TextChoices):
        STANDARD = "standard", "Evidence pack"
        CERTIFICATION = "certification", "Certification evidence (extended MDR/SDS)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Building"
        RETRYING = "retrying", "Retrying (storage unavailable)"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        DELETED = "deleted", "Deleted (retention)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STANDARD)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    period_start = models.DateField()
    period_end = models.DateField()  # inclusive
    interfaces = models.JSONField(default=list, blank=True)
    dip_ids = models.JSONField(default=list, blank=True)
    mpans = models.JSONField(default=list, blank=True)
    progress = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    message_count = models.PositiveBigIntegerField(default=0)
    storage_name = models.CharField(max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    key_id = models.CharField(max_length=80, blank=True)
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="evidence_pack_expiry")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start}–{self.period_end} [{self.status}]"

    @property
    def percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        return int(100 * self.progress / self.total) if self.total else 0


class InterfacePair(models.Model):
    """A request interface whose response interface is expected within ``limit_minutes``
    (business-process reconciliation). Matched on MPAN core."""

    request_interface_id = models.CharField(max_length=12)
    response_interface_id = models.CharField(max_length=12)
    limit_minutes = models.PositiveIntegerField(default=24 * 60)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["request_interface_id", "response_interface_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request_interface_id", "response_interface_id"], name="evidence_pair_once"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.request_interface_id} → {self.response_interface_id} ({self.limit_minutes} min)"
        )
