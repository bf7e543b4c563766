"""Outbound pipeline tables (tenant schema): client API keys, idempotent submissions, the
transactional outbox, every HTTP attempt at the DIP and every status report received.

The outbox row is written in the same transaction as the message and its raw bytes; the broker
only nudges. ``pending`` rows are what still has to reach the DIP; ``lease_until`` marks one in
flight (a killed worker's lease simply runs out and the sweeper re-enqueues it)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q

from messaging.models import Message


class ClientApiKey(models.Model):
    """A tenant's machine credential for the client API. Only a SHA-256 of the secret is kept
    (the secret is 32 random bytes, so a fast hash is enough); ``prefix`` finds the row."""

    class Scope(models.TextChoices):
        SEND = "messages:send", "Submit messages"
        READ = "messages:read", "Read messages and status"

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=20), default=list)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Submission(models.Model):
    """One accepted client request (a message or a batch). With an ``Idempotency-Key`` the
    same key and the same body give back this result; a different body is a conflict."""

    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64)
    principal = models.CharField(max_length=254)  # "user:<email>" or "key:<prefix>"
    dip_id = models.CharField(max_length=10)
    interface_id = models.CharField(max_length=12)
    environment = models.CharField(max_length=10)
    message_ids = ArrayField(models.BigIntegerField(), default=list)
    response = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="submission_idempotency_once",
            )
        ]

    def __str__(self) -> str:
        return f"submission {self.pk} {self.interface_id} x{len(self.message_ids)}"


class StatusOutcome(models.TextChoices):
    """What decided an accepted message: a status, or the end of its status window."""

    POSITIVE = "positive", "Settled: positive status"
    NO_ISSUE = "no_issue", "Settled: no issue reported"
    NEGATIVE = "negative", "Rejected: negative status"


class OutboxEntry(models.Model):
    """The outbox and the outbound record of one message: what is due, what is in flight,
    how often it was tried, which certificate signed it and when the DIP answered."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, primary_key=True, related_name="outbox"
    )
    submission = models.ForeignKey(
        Submission, on_delete=models.SET_NULL, null=True, blank=True, related_name="entries"
    )
    environment = models.CharField(max_length=10)
    dip_id = models.CharField(max_length=10)
    interface_id = models.CharField(max_length=12)
    mpan_core = models.CharField(max_length=13, blank=True)
    ordered = models.BooleanField(default=False)  # per-MPAN order applies
    pending = models.BooleanField(default=True)  # still has to reach the DIP
    due_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    certificate_fingerprint = models.CharField(max_length=95, blank=True)
    certificate_id = models.BigIntegerField(null=True, blank=True)
    queued_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    # The status window: silence until then settles the message "no issue reported".
    status_due_at = models.DateTimeField(null=True, blank=True)
    # Why it settled or was rejected after acceptance (docs/outbound.md "Status semantics").
    status_outcome = models.CharField(
        max_length=10, choices=StatusOutcome.choices, blank=True, default=""
    )
    # The DIP may hold it: an attempt carrying it ended without an answer (transport error,
    # 5xx, a worker killed mid-send). A later MSG1006 then means "accepted already".
    maybe_at_dip = models.BooleanField(default=False)
    # Retry with the same composition and bytes: the body hash of the batch whose answer was
    # lost; entries sharing it are claimed together again ("" = free to join any batch).
    batch_key = models.CharField(max_length=64, blank=True)
    solo = models.BooleanField(default=False)  # isolated: sent in a batch of its own
    generic_rejections = models.PositiveIntegerField(default=0)  # whole-batch 400s, no code
    held_at = models.DateTimeField(null=True, blank=True)  # unknown code: kept for an operator

    class Meta:
        indexes = [
            models.Index(
                fields=["dip_id", "interface_id", "message"],
                condition=Q(pending=True),
                name="outbox_pending_group",
            ),
            models.Index(fields=["due_at"], condition=Q(pending=True), name="outbox_pending_due"),
            models.Index(
                fields=["mpan_core", "message"],
                condition=Q(pending=True, ordered=True),
                name="outbox_pending_mpan",
            ),
            models.Index(
                fields=["status_due_at"],
                condition=Q(status_due_at__isnull=False),
                name="outbox_status_due",
            ),
        ]

    def __str__(self) -> str:
        return f"outbox {self.message_id} {'pending' if self.pending else 'done'}"


class Attempt(models.Model):
    """One HTTP POST of a DIP batch: exactly what went out and what came back."""

    environment = models.CharField(max_length=10)
    dip_id = models.CharField(max_length=10)
    interface_id = models.CharField(max_length=12)
    url = models.CharField(max_length=500)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    batch_size = models.PositiveIntegerField()
    body_sha256 = models.CharField(max_length=64)  # body = "[" + ",".join(items' raw) + "]"
    body_size = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20)
    error = models.CharField(max_length=500, blank=True)
    request_headers = models.JSONField(default=dict)  # API key masked
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True)
    certificate_fingerprint = models.CharField(max_length=95, blank=True)
    certificate_id = models.BigIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    message_ids = ArrayField(models.BigIntegerField(), default=list)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["dip_id", "started_at"], name="attempt_dip_started"),
            GinIndex(fields=["message_ids"], name="attempt_message_ids"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.pk} {self.interface_id} x{self.batch_size} → {self.status_code}"


class StatusReport(models.Model):
    """A status message about one of our messages (DIP L2, recipient L3/L4), as received."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="status_reports"
    )
    transaction_id = models.CharField(max_length=65, blank=True)
    sender_unique_reference = models.CharField(max_length=200, blank=True)
    code = models.CharField(max_length=10, blank=True)
    text = models.CharField(max_length=200, blank=True)
    help = models.CharField(max_length=500, blank=True)
    sender_id = models.CharField(max_length=10, blank=True)
    success = models.BooleanField()
    received_at = models.DateTimeField()
    body = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["message", "id"], name="status_report_message")]

    def __str__(self) -> str:
        return f"{self.code} for {self.sender_unique_reference or self.transaction_id}"


class DipAvailability(models.Model):
    """Whether the DIP of one environment takes sends, as this tenant's sender sees it.

    ``available`` drops when sends fail at the transport/5xx level across the board for long
    enough (``OUTAGE_AFTER_FAILURES`` in a row over ``OUTAGE_AFTER_SECONDS``); while it is down
    the sender only probes (one batch every ``PROBE_INTERVAL``), clients keep submitting, and
    nothing fails before ``GIVE_UP_AFTER``. The first answer that is not a transport failure
    brings it back and starts the drain (``draining``, paced by ``DRAIN_RATE``)."""

    environment = models.CharField(max_length=10, unique=True)
    available = models.BooleanField(default=True)
    unavailable_since = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    draining = models.BooleanField(default=False)
    failures = models.PositiveIntegerField(default=0)  # transport/5xx answers in a row
    failing_since = models.DateTimeField(null=True, blank=True)  # first of those
    last_error = models.CharField(max_length=500, blank=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)  # 429 Retry-After
    pace_at = models.DateTimeField(null=True, blank=True)  # drain pacing: next free send slot
    outages = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["environment"]
        verbose_name_plural = "DIP availability"

    def __str__(self) -> str:
        return f"DIP {self.environment} {'available' if self.available else 'unavailable'}"
