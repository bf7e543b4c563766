"""Inbound receipts, L4 status replies and client delivery (tenant schema).

* :class:`InboundReceipt` - one DIP callback as it arrived: headers, verification result, what
  we answered, the raw body (``messaging.RawBody``) and counts. Messages point at the same raw
  body (``Message.raw`` + ``raw_index``).
* :class:`StatusReply` - the level 4 status we owe the DIP for one inbound message.
* :class:`DuplicatePolicy` - whether suspected (content) duplicates reach the client.
* :class:`ClientEndpoint` - a client system's push webhook (Standard Webhooks signing);
  :class:`EndpointDelivery` - one feed event for one endpoint; :class:`DeliveryAttempt` - each
  POST. :class:`FeedCursor` - where a pull-feed consumer has acknowledged up to.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from messaging.models import FeedEvent, Message, RawBody


class InboundReceipt(models.Model):
    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted (201)"
        PARTIAL = "partial", "Partly accepted (207)"
        REJECTED = "rejected", "Rejected (400)"
        SIGNATURE = "signature", "Signature or certificate failed"

    channel = models.ForeignKey(
        "participants.Channel", on_delete=models.PROTECT, related_name="receipts"
    )
    interface_id = models.CharField(max_length=12)
    dip_id = models.CharField(max_length=20)  # our client's DIP ID (the recipient)
    environment = models.CharField(max_length=10)
    raw = models.ForeignKey(
        RawBody, on_delete=models.PROTECT, null=True, blank=True, related_name="receipts"
    )
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    headers = models.JSONField(default=dict)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField()
    verified = models.BooleanField(default=False)
    verification = models.JSONField(default=dict)  # reason / signer subject, fingerprint, date
    message_count = models.PositiveIntegerField(default=0)
    accepted_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    duplicate_transaction_ids = models.JSONField(default=list, blank=True)
    findings = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["outcome", "received_at"], name="receipt_outcome")]

    def __str__(self) -> str:
        return f"receipt #{self.pk} {self.interface_id} → {self.dip_id} ({self.http_status})"


class ReplyMode(models.TextChoices):
    """Which status messages we send about our clients' inbound messages (seed 003 §3.1/3.3:
    a status for every issue; a positive one only where a party asks for it)."""

    ISSUES_ONLY = "issues_only", "Issues only (negative statuses)"
    ALL = "all", "Issues and positive confirmations (RCP0000)"


class StatusReplyPolicy(models.Model):
    """The tenant's choice (``interface_id`` blank) or one interface's override. No row: issues
    only. Written by ``messaging.inbound.status.set_reply_policy`` (audited)."""

    interface_id = models.CharField(
        max_length=12, blank=True, unique=True, help_text="IF-nnn; blank = every interface"
    )
    mode = models.CharField(max_length=12, choices=ReplyMode.choices)
    updated = models.DateTimeField()
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["interface_id"]

    def __str__(self) -> str:
        return f"status replies {self.interface_id or 'default'}: {self.mode}"


class DuplicatePolicy(models.Model):
    """What happens to suspected (content) duplicates: same interface, MPAN and content as an
    earlier message under new references (docs/inbound.md "Duplicates"). One row at most; no
    row: delivered to the client, flagged. Written by
    ``messaging.inbound.duplicates.set_duplicate_policy`` (audited)."""

    deliver_content_duplicates = models.BooleanField(
        default=True, help_text="Deliver suspected duplicates (flagged) or hold them"
    )
    updated = models.DateTimeField()
    updated_by = models.CharField(max_length=254, blank=True)

    def __str__(self) -> str:
        return "deliver" if self.deliver_content_duplicates else "hold"


class StatusReply(models.Model):
    """The status message (L4) we owe the DIP for one inbound message, or the record that none
    is owed: a message without issues under the issues-only policy is ``withheld``. Every
    processed inbound message has one, naming the policy that decided (``mode``)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        WITHHELD = "withheld", "Not sent: no issue (issues-only policy)"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="l4_status")
    dip_id = models.CharField(max_length=20)  # who sends it (our client)
    environment = models.CharField(max_length=10)
    code = models.CharField(max_length=10)
    body = models.JSONField()  # the StandardResponseBodyType item
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    mode = models.CharField(max_length=12, choices=ReplyMode.choices, default=ReplyMode.ISSUES_ONLY)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["pending", "failed"]),
                name="l4_due_to_send",
            )
        ]

    def __str__(self) -> str:
        return f"L4 {self.code} for {self.message_id} ({self.state})"


class ClientEndpoint(models.Model):
    """A client system's webhook: feed events are POSTed to it, signed (Standard Webhooks)."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    interfaces = models.JSONField(default=list, blank=True, help_text="Empty: every interface")
    directions = models.JSONField(
        default=list, blank=True, help_text="inbound/outbound; empty: both"
    )
    secret_sealed = models.TextField()
    secret_fingerprint = models.CharField(max_length=40)
    previous_secret_sealed = models.TextField(blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE)
    # Feed events up to this seq have an EndpointDelivery row (the fan-out cursor).
    enqueued_through = models.BigIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


class EndpointDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        # The message is kept from the client (a repeated sender reference, or a suspected
        # duplicate under a "hold" DuplicatePolicy): not sent, and not blocking its MPAN.
        WITHHELD = "withheld", "Withheld (duplicate)"

    endpoint = models.ForeignKey(
        ClientEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(FeedEvent, on_delete=models.CASCADE, related_name="deliveries")
    seq = models.BigIntegerField()
    mpan_core = models.CharField(max_length=13, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once")]
        indexes = [
            models.Index(
                fields=["endpoint", "seq"], condition=Q(state="pending"), name="delivery_pending"
            )
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} → {self.endpoint_id} ({self.state})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(EndpointDelivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.pk}: {self.status_code or self.error}"


class FeedCursor(models.Model):
    """How far a pull-feed consumer (an API user) has acknowledged the feed (``after=``)."""

    consumer = models.CharField(max_length=254, unique=True)
    position = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.consumer} @ {self.position}"
