"""Per-tenant retention policy and legal holds (tenant schema)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


def _default(name: str) -> int:
    return int(settings.RETENTION_DEFAULTS[name])


def default_raw_body_days() -> int:
    return _default("raw_body_days")


def default_message_days() -> int:
    return _default("message_days")


def default_log_days() -> int:
    return _default("log_days")


class RetentionPolicy(models.Model):
    """How long this tenant's data is kept, in days. One row per tenant schema (pk=1); absent
    = the platform defaults (settings.RETENTION_DEFAULTS)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    raw_body_days = models.PositiveIntegerField(
        default=default_raw_body_days,
        validators=[MinValueValidator(1)],
        help_text="Exact bytes received/sent; kept while any retained record still uses them.",
    )
    message_days = models.PositiveIntegerField(
        default=default_message_days,
        validators=[MinValueValidator(1)],
        help_text="Messages in a final state, with their transitions, exceptions and statuses.",
    )
    log_days = models.PositiveIntegerField(
        default=default_log_days,
        validators=[MinValueValidator(1)],
        help_text="Operational logs: client feed events and delivery attempts.",
    )
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="retention_policy_singleton")]

    def __str__(self) -> str:
        return f"raw {self.raw_body_days} d, messages {self.message_days} d, logs {self.log_days} d"


class LegalHold(models.Model):
    """While active (not released), nothing it covers is purged: every message (scope
    ``all``), the messages of one MPAN, or the messages created in a date range."""

    class Scope(models.TextChoices):
        ALL = "all", "Everything"
        MPAN = "mpan", "One MPAN"
        DATE_RANGE = "date_range", "Date range"

    scope = models.CharField(max_length=12, choices=Scope.choices)
    mpan_core = models.CharField(max_length=13, blank=True)
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True, help_text="Inclusive.")
    reason = models.CharField(max_length=500)
    reference = models.CharField(max_length=100, blank=True, help_text="Case or ticket number.")
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="all")
                    | (Q(scope="mpan") & ~Q(mpan_core=""))
                    | (
                        Q(scope="date_range")
                        & Q(date_from__isnull=False)
                        & Q(date_to__isnull=False)
                    )
                ),
                name="legal_hold_scope_complete",
            )
        ]

    def __str__(self) -> str:
        if self.scope == self.Scope.MPAN:
            what = f"MPAN …{self.mpan_core[-4:]}"
        elif self.scope == self.Scope.DATE_RANGE:
            what = f"{self.date_from}–{self.date_to}"
        else:
            what = "everything"
        return f"hold on {what}{' (released)' if self.released_at else ''}"

    @property
    def active(self) -> bool:
        return self.released_at is None
