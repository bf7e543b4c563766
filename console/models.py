"""Operations console tables (tenant schema): saved searches, exception comments, four-eyes
edit-and-resend requests and bulk actions over everything a search matches."""

from __future__ import annotations

from django.db import models

from messaging.models import Message, MessageException


class SavedSearch(models.Model):
    name = models.CharField(max_length=100)
    owner = models.CharField(max_length=254)  # email
    shared = models.BooleanField(default=False)
    params = models.JSONField(default=dict)  # SearchQuery.to_params()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExceptionComment(models.Model):
    exception = models.ForeignKey(
        MessageException, on_delete=models.CASCADE, related_name="console_comments"
    )
    author = models.CharField(max_length=254)
    text = models.TextField(max_length=4000)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.text[:40]}"


class ResendRequest(models.Model):
    """An operator's edited copy of an outbound message, sent only once a *second* user
    approves it. The original message and its raw bytes are never touched."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        SENT = "sent", "Approved and submitted"
        REJECTED = "rejected", "Rejected by the approver"
        FAILED = "failed", "Approved but refused by validation"

    original = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="+")
    edited_item = models.JSONField()  # the full DIP message object to submit
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    editor = models.CharField(max_length=254)
    editor_id = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)
    approver = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=500, blank=True)
    resent = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"resend of {self.original_id} [{self.status}]"


class BulkAction(models.Model):
    """Requeue, DIP-replay or redeliver everything a search matched, in the background: chunked,
    rate-limited, pausable and cancellable between chunks; ``cursor`` is the last message id
    done (the walk goes by descending id, so new arrivals are never picked up)."""

    class Kind(models.TextChoices):
        REQUEUE_OUTBOUND = "requeue_outbound", "Requeue outbound (send again)"
        REPLAY_INBOUND = "replay_inbound", "Ask the DIP to replay inbound (to our webhook)"
        REDELIVER_INBOUND = "redeliver_inbound", "Redeliver inbound to the client's endpoints"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    pause_requested = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(null=True, blank=True)
    ceiling = models.BigIntegerField(null=True, blank=True)  # max id at start
    chunk_size = models.PositiveIntegerField(default=500)
    rate_per_second = models.PositiveIntegerField(default=2000)
    requested_by = models.CharField(max_length=254)
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} [{self.status}] {self.processed}/{self.total}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.CANCELLED, self.Status.FAILED)


class AlertRule(models.Model):
    """A condition checked every minute by ``console.alerts_dispatch``; a breach raises an
    Alert (once, until acknowledged) and notifies e-mail addresses and/or a webhook."""

    class Kind(models.TextChoices):
        FAILURE_RATE = "failure_rate", "Failures in the window above threshold (count)"
        EXCEPTION_SPIKE = "exception_spike", "New exceptions in the window above threshold"
        QUIET_CHANNEL = "quiet_channel", "No messages on an interface for the window"
        RESPONSE_TIME = "response_time", "Response-time rule breached in the last hour"
        ENDPOINT_PAUSED = "endpoint_paused", "A client endpoint is paused"
        CERTIFICATE_EXPIRY = "certificate_expiry", "A certificate expires within threshold days"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    interface_id = models.CharField(max_length=12, blank=True)
    threshold = models.PositiveIntegerField(default=0)
    window_minutes = models.PositiveIntegerField(default=60)
    emails = models.CharField(max_length=1000, blank=True)  # comma-separated
    webhook_url = models.URLField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.CharField(max_length=254)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    fired_at = models.DateTimeField()
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=254, blank=True)
    notified = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["rule", "acknowledged_at"], name="console_alert_open")]

    def __str__(self) -> str:
        return f"{self.rule}: {self.summary}"
