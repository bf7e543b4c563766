from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from rest_framework import serializers

from messaging.models import Message, MessageException, Transition
from messaging.outbound.models import Attempt, ClientApiKey, DipAvailability, StatusReport


class SubmitSerializer(serializers.Serializer[Any]):
    dip_id = serializers.CharField(max_length=10, help_text="The tenant's DIP ID that sends")
    interface_id = serializers.CharField(max_length=12, help_text='e.g. "IF-021"')
    environment = serializers.CharField(
        max_length=10, required=False, help_text="UIT, PRD …; default: S1.environmentTag"
    )
    messages = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=1000,
        help_text='DIP array elements {"payload": {"CommonBlock": …, "CustomBlock": …}}',
    )

    def validate_messages(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:  # what the service hashes and stores must be plain JSON (64-bit integers)
            orjson.dumps(value)
        except TypeError as exc:
            raise serializers.ValidationError(f"Not storable as JSON: {exc}.") from exc
        return value


class FindingSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    severity = serializers.CharField()
    level = serializers.IntegerField()
    path = serializers.CharField()
    message = serializers.CharField()
    index = serializers.IntegerField(allow_null=True)


class SubmittedMessageSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    sender_unique_reference = serializers.CharField()
    mpan_core = serializers.CharField()
    state = serializers.CharField()


class SubmissionResultSerializer(serializers.Serializer[Any]):
    submission_id = serializers.IntegerField()
    dip_id = serializers.CharField()
    interface_id = serializers.CharField()
    environment = serializers.CharField()
    messages = SubmittedMessageSerializer(many=True)
    findings = FindingSerializer(many=True)


class TransitionSerializer(serializers.ModelSerializer[Transition]):
    class Meta:
        model = Transition
        fields = ["from_state", "to_state", "at", "actor", "reason", "details"]


class ExceptionSerializer(serializers.ModelSerializer[MessageException]):
    class Meta:
        model = MessageException
        fields = ["category", "code", "summary", "status", "opened_at", "resolved_at"]


class AttemptSerializer(serializers.ModelSerializer[Attempt]):
    class Meta:
        model = Attempt
        fields = [
            "id", "started_at", "duration_ms", "status_code", "outcome", "error", "batch_size",
            "body_sha256", "certificate_fingerprint", "url",
        ]  # fmt: skip


class StatusReportSerializer(serializers.ModelSerializer[StatusReport]):
    class Meta:
        model = StatusReport
        fields = ["code", "text", "help", "sender_id", "success", "received_at", "transaction_id"]


class MessageStatusSerializer(serializers.ModelSerializer[Message]):
    id = serializers.UUIDField(source="public_id")
    transitions = TransitionSerializer(many=True)
    exceptions = ExceptionSerializer(many=True)
    status_reports = StatusReportSerializer(many=True)
    certificate_fingerprint = serializers.SerializerMethodField()
    status_outcome = serializers.SerializerMethodField(
        help_text='After the DIP accepted it: "positive" (a positive status settled it), '
        '"no_issue" (no issue reported: its status window ended in silence), "negative" (a '
        'negative status rejected it), "" (not decided yet)'
    )
    dip_unavailable_since = serializers.SerializerMethodField(
        help_text="set while the message waits because the DIP is unavailable"
    )

    class Meta:
        model = Message
        fields = [
            "id", "direction", "state", "state_changed_at", "created", "environment",
            "interface_id", "event_code", "dip_id", "mpan_core", "sender_unique_reference",
            "transaction_id", "findings", "certificate_fingerprint", "transitions", "exceptions",
            "status_reports", "dip_unavailable_since", "status_outcome",
        ]  # fmt: skip

    def get_dip_unavailable_since(self, obj: Message) -> datetime | None:
        entry = getattr(obj, "outbox", None)
        if entry is None or not entry.pending:
            return None
        row = DipAvailability.objects.filter(environment=entry.environment, available=False).first()
        return row.unavailable_since if row else None

    def get_status_outcome(self, obj: Message) -> str:
        entry = getattr(obj, "outbox", None)
        return entry.status_outcome if entry is not None else ""

    def get_certificate_fingerprint(self, obj: Message) -> str:
        entry = getattr(obj, "outbox", None)
        return entry.certificate_fingerprint if entry is not None else ""


class ClientApiKeySerializer(serializers.ModelSerializer[ClientApiKey]):
    class Meta:
        model = ClientApiKey
        fields = ["id", "name", "prefix", "scopes", "created", "created_by", "last_used_at",
                  "revoked_at"]  # fmt: skip
        read_only_fields = ["prefix", "created", "created_by", "last_used_at", "revoked_at"]


class ClientApiKeyCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ClientApiKey.Scope.choices)
    )


class IssuedClientApiKeySerializer(ClientApiKeySerializer):
    key = serializers.CharField(help_text="Shown once: store it now")

    class Meta(ClientApiKeySerializer.Meta):
        fields = [*ClientApiKeySerializer.Meta.fields, "key"]


class AvailabilitySerializer(serializers.Serializer[Any]):
    """The DIP of one environment as the platform sees it, and this tenant's backlog."""

    environment = serializers.CharField()
    available = serializers.BooleanField()
    unavailable_since = serializers.DateTimeField(allow_null=True)
    summary = serializers.CharField(help_text='e.g. "DIP unavailable since <time> UTC"')
    draining = serializers.BooleanField(help_text="available again, sending the backlog")
    recovered_at = serializers.DateTimeField(allow_null=True)
    last_probe_at = serializers.DateTimeField(allow_null=True)
    next_probe_at = serializers.DateTimeField(allow_null=True)
    queued = serializers.IntegerField(help_text="this tenant's messages waiting for the DIP")
    oldest_queued_at = serializers.DateTimeField(allow_null=True)
