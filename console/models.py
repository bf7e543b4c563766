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
    """Requeue (or redeliver) everything a search matched, in the background: chunked,
    rate-limited, pausable and cancellable between chunks; ``cursor`` is the last message id
    done (the walk goes by descending id, so new arrivals are never picked up)."""

    class Kind(models.TextChoices):
        REQUEUE_OUTBOUND = "requeue_outbound", "Requeue outbound (send again)"

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
