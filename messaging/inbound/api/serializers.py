from __future__ import annotations

from typing import Any

from rest_framework import serializers

from messaging.inbound.models import ClientEndpoint, DeliveryAttempt, EndpointDelivery, ReplyMode
from messaging.models import FeedEvent


class ClientEndpointSerializer(serializers.ModelSerializer[ClientEndpoint]):
    pending = serializers.SerializerMethodField()

    class Meta:
        model = ClientEndpoint
        fields = [
            "id",
            "name",
            "url",
            "interfaces",
            "directions",
            "secret_fingerprint",
            "previous_secret_until",
            "state",
            "enqueued_through",
            "consecutive_failures",
            "failing_since",
            "last_success_at",
            "last_failure_at",
            "last_error",
            "paused_at",
            "pause_reason",
            "created",
            "pending",
        ]
        read_only_fields = [
            f for f in fields if f not in ("name", "url", "interfaces", "directions")
        ]

    def get_pending(self, obj: ClientEndpoint) -> int:
        return obj.deliveries.filter(state=EndpointDelivery.State.PENDING).count()


class EndpointWithSecretSerializer(ClientEndpointSerializer):
    secret = serializers.SerializerMethodField()

    class Meta(ClientEndpointSerializer.Meta):
        fields = [*ClientEndpointSerializer.Meta.fields, "secret"]

    def get_secret(self, obj: Any) -> str:
        return str(self.context.get("secret", ""))


class ReplaySerializer(serializers.Serializer[Any]):
    from_seq = serializers.IntegerField(min_value=0)


class PauseSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class AttemptSerializer(serializers.ModelSerializer[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt
        fields = ["at", "status_code", "error", "duration_ms"]


class FeedEventSerializer(serializers.ModelSerializer[FeedEvent]):
    message_id = serializers.UUIDField(source="message.public_id")
    state = serializers.CharField(source="message.state")

    class Meta:
        model = FeedEvent
        fields = [
            "seq",
            "kind",
            "message_id",
            "mpan_core",
            "interface_id",
            "state",
            "created",
            "payload",
        ]


class StatusReplyPolicySerializer(serializers.Serializer[Any]):
    """The status replies the tenant's inbound messages get: ``default`` for every interface,
    ``interfaces`` the per-interface overrides."""

    default = serializers.ChoiceField(choices=ReplyMode.choices)
    interfaces = serializers.DictField(child=serializers.ChoiceField(choices=ReplyMode.choices))


class StatusReplyPolicySetSerializer(serializers.Serializer[Any]):
    interface_id = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        default="",
        help_text='"IF-nnn" for one interface; blank for the tenant default',
    )
    mode = serializers.ChoiceField(
        choices=[*ReplyMode.choices, ("inherit", "Remove the interface's override")],
        help_text='"issues_only" (default: negative statuses only), "all" (also RCP0000), '
        'or "inherit" (an interface follows the default again)',
    )
