"""The message store. Tenant schema: each client's messages live in its own schema."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from messaging.states import Direction, State


class RawBody(models.Model):
    """Exact bytes received or sent, addressed by their SHA-256. Never modified: replays and
    evidence are built from these bytes, never from a re-serialisation. Recent bodies live in
    PostgreSQL (``content``); older ones move to object storage (``storage_name``)."""

    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    content = models.BinaryField(null=True, blank=True)  # TOAST-compressed with lz4 (0002)
    storage_name = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # A constraint rather than unique=True: same unique index, without the extra
        # varchar_pattern_ops index Django adds for unique CharFields (nobody LIKE-searches
        # hashes, and every capture would pay for it).
        constraints = [models.UniqueConstraint(fields=["sha256"], name="rawbody_sha256_unique")]

    def __str__(self) -> str:
        return f"raw {self.sha256[:12]} ({self.size} B)"


class Message(models.Model):
    """One DIP message (one element of a DIP batch array), in either direction."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RECEIVED)
    state_changed_at = models.DateTimeField()
    created = models.DateTimeField()  # indexed as (created, id): console_msg_created_id

    environment = models.CharField(max_length=10)
    spec_version = models.CharField(max_length=10, default="2.1.0")
    interface_id = models.CharField(max_length=12)
    event_code = models.CharField(max_length=60, blank=True)
    schema_version = models.CharField(max_length=10, blank=True)
    # Our client's DIP ID (the sender outbound, the recipient inbound) and the other party.
    dip_id = models.CharField(max_length=20)
    counterparty_dip_id = models.CharField(max_length=20, blank=True)
    dcp_id = models.CharField(max_length=20, blank=True)
    mpan_core = models.CharField(max_length=13, blank=True)

    sender_unique_reference = models.CharField(max_length=200, blank=True)
    transaction_id = models.CharField(max_length=65, blank=True)
    correlation_id = models.CharField(max_length=60, blank=True)
    publication_id = models.CharField(max_length=65, blank=True)

    raw = models.ForeignKey(RawBody, on_delete=models.PROTECT, related_name="messages")
    # Position of this message in the raw batch it came in (inbound) or None (outbound: the
    # raw body is this message's own serialised bytes).
    raw_index = models.PositiveIntegerField(null=True, blank=True)
    common_block = models.JSONField(default=dict, blank=True)
    findings = models.JSONField(default=list, blank=True)
    is_duplicate = models.BooleanField(default=False)
    duplicate_count = models.PositiveIntegerField(default=0)
    # Duplicate detection (inbound, docs/inbound.md "Duplicates"), all set by the processing
    # step, never by the capture: the SHA-256 of the message's content (payload without the
    # envelope blocks S1/S2/A0/D0), the original a duplicate repeats, and whether the message
    # is kept from the client's systems. db_default too: raw-SQL seeders name their columns.
    payload_digest = models.CharField(max_length=64, blank=True, default="", db_default="")
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="duplicates",
        db_index=False,  # partial index below: the capture (all NULL) never touches it
    )
    withheld = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-id"]
        # Every index is paid for by each inbound capture (ten rows per callback): keep the
        # set minimal. (state, id), (interface_id, id), (created, id), (counterparty, id),
        # (event_code, id), publication_id and the envelope GIN come from console 0002.
        indexes = [
            models.Index(fields=["mpan_core", "id"], name="msg_mpan"),
            models.Index(fields=["dip_id", "created"], name="msg_dip_created"),
            models.Index(fields=["transaction_id"], name="msg_transaction"),
            # Most inbound messages carry no correlation id: index only the ones that do
            # (a lookup of a non-empty value implies the predicate, so it still uses it).
            models.Index(
                fields=["correlation_id"], name="msg_correlation", condition=~Q(correlation_id="")
            ),
            models.Index(fields=["sender_unique_reference"], name="msg_sur"),
            # Partial: the capture inserts rows without a digest (set when processed), so it
            # never pays for these.
            models.Index(
                fields=["payload_digest"],
                name="msg_payload_digest",
                condition=~Q(payload_digest=""),
            ),
            models.Index(
                fields=["duplicate_of"],
                name="msg_duplicate_of",
                condition=Q(duplicate_of__isnull=False),
            ),
        ]
        constraints = [
            # Inbound duplicates (same DIP transaction id) are recorded once. transaction_id
            # leads: the webhook's duplicate check (transaction_id = ANY(...)) must descend by
            # it — led by environment, a planner with stale statistics on a young table chose
            # "environment = X" as the only index condition and filtered every inbound row.
            models.UniqueConstraint(
                fields=["transaction_id", "environment"],
                condition=Q(direction=Direction.INBOUND) & ~Q(transaction_id=""),
                name="msg_inbound_transaction_unique",
            ),
            # Our SUR is unique per environment: the DIP rejects a reused one (MSG1006).
            models.UniqueConstraint(
                fields=["environment", "sender_unique_reference"],
                condition=Q(direction=Direction.OUTBOUND) & ~Q(sender_unique_reference=""),
                name="msg_outbound_sur_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.interface_id} {self.public_id} [{self.state}]"


class Transition(models.Model):
    """Append-only history of a message's states: who/what moved it, when and why."""

    # Indexed by transition_message (message, id); no separate single-column index.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="transitions", db_index=False
    )
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12)
    at = models.DateTimeField()
    actor = models.CharField(max_length=254, blank=True)  # email, "system", "dip", task name
    reason = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["message", "id"], name="transition_message")]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.from_state or '∅'} → {self.to_state}"


class ExceptionCategory(models.TextChoices):
    SIGNATURE = "signature", "Signature or certificate"
    SCHEMA = "schema", "Schema"
    BUSINESS_RULE = "business_rule", "Business rule"
    UNKNOWN_MPAN = "unknown_mpan", "Unknown MPAN"
    DUPLICATE = "duplicate", "Duplicate"
    SUSPECTED_DUPLICATE = "suspected_duplicate", "Suspected duplicate (same content)"
    OUT_OF_ORDER = "out_of_order", "Out of order"
    REJECTED_BY_DIP = "rejected_by_dip", "Rejected by the DIP"
    REJECTED_BY_RECIPIENT = "rejected_by_recipient", "Rejected by the recipient"
    TRANSPORT = "transport", "Transport / DIP unavailable"
    CONFIGURATION = "configuration", "Configuration (keys, nominations, certificates)"
    TIMEOUT = "timeout", "Status not received in time"
    CLIENT_DELIVERY = "client_delivery", "Client endpoint delivery"


class MessageException(models.Model):
    """A categorised problem with a message, for the exception workbench."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="exceptions")
    category = models.CharField(max_length=24, choices=ExceptionCategory.choices)
    code = models.CharField(max_length=20, blank=True)  # DIP code (MSG…/RCP…) or our own
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    assigned_to = models.CharField(max_length=254, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=254, blank=True)
    resolution = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "category", "opened_at"], name="exc_open")]

    def __str__(self) -> str:
        return f"{self.category} {self.code}: {self.summary}"


class FeedEvent(models.Model):
    """The client-visible event stream: one row per message arrival or status change.

    Ids are handed out at insert time, so they do not follow commit order; a cursor over ids
    could skip an event whose transaction commits late. ``seq`` is therefore assigned *after*
    commit by ``publish_feed_events()`` (serialised by an advisory lock), and clients page on
    ``seq``: ``GET /api/v1/feed/?after=<seq>`` never misses an event. Push delivery to client
    webhooks reads the same sequence."""

    class Kind(models.TextChoices):
        MESSAGE_RECEIVED = "message.received", "Inbound message received"
        STATUS_CHANGED = "message.status_changed", "Message status changed"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feed_events")
    mpan_core = models.CharField(max_length=13, blank=True)
    interface_id = models.CharField(max_length=12)
    payload = models.JSONField(default=dict)
    created = models.DateTimeField()
    # Unique where assigned: rows are inserted unsequenced (by the capture, on the hot path),
    # so they enter this index only when publish_feed_events() numbers them.
    seq = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(seq__isnull=True), name="feed_unpublished")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["seq"], condition=Q(seq__isnull=False), name="feed_seq_unique"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.message_id}"
