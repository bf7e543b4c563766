"""Serializers: shapes only. Rules live in participants.services."""

from __future__ import annotations

from rest_framework import serializers

from dcpregistry.environments import Environment
from participants.models import (
    ApiKey,
    CertificationItem,
    Channel,
    ChecklistItem,
    DipId,
    InterfaceSelection,
    MpidRole,
    Nomination,
    OrganisationProfile,
    PromotionChangeSet,
    SdsMdrPairing,
)
from participants.services.channels import webhook_url


class DipRoleSerializer(serializers.Serializer):
    code = serializers.CharField()
    dip_active = serializers.CharField()
    is_dip_active = serializers.BooleanField()
    requestable = serializers.BooleanField()
    service_name = serializers.CharField()
    market_segment = serializers.CharField()
    market_participant_role = serializers.CharField()


class ProfileSerializer(serializers.ModelSerializer):
    updated = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = OrganisationProfile
        fields = [
            "company_name",
            "company_number",
            "registered_address",
            "contact_name",
            "contact_email",
            "contact_phone",
            "domains",
            "updated",
        ]
        read_only_fields = ["updated"]


class ChecklistItemSerializer(serializers.ModelSerializer):
    step_label = serializers.CharField(source="get_step_display", read_only=True)

    class Meta:
        model = ChecklistItem
        fields = [
            "environment",
            "step",
            "step_label",
            "status",
            "owner",
            "due_date",
            "blockers",
            "completed_at",
            "updated_by",
        ]
        read_only_fields = ["completed_at", "updated_by"]


class ChecklistQuerySerializer(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)


class ChecklistUpdateSerializer(serializers.Serializer):
    """PUT one onboarding step: which step, and its new status (required; a blocked step also
    needs ``blockers``, which the service checks)."""

    environment = serializers.ChoiceField(choices=Environment.choices)
    step = serializers.ChoiceField(choices=ChecklistItem.Step.choices)
    status = serializers.ChoiceField(choices=ChecklistItem.Status.choices)
    owner = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    blockers = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class MpidRoleSerializer(serializers.ModelSerializer):
    pre_approved = serializers.BooleanField(required=False, allow_null=True, default=None)
    role_code = serializers.CharField(max_length=10)
    mpid = serializers.CharField(max_length=10)

    class Meta:
        model = MpidRole
        validators: list[object] = []  # services decide uniqueness, with coded errors
        fields = ["id", "mpid", "role_code", "pre_approved", "created", "created_by"]
        read_only_fields = ["id", "created", "created_by"]


class DipIdSerializer(serializers.ModelSerializer):
    mpid = serializers.CharField(source="mpid_role.mpid", read_only=True)
    role_code = serializers.CharField(source="mpid_role.role_code", read_only=True)
    mpid_role = serializers.PrimaryKeyRelatedField(queryset=MpidRole.objects.all())
    environment = serializers.CharField(max_length=4)
    value = serializers.CharField(max_length=20, required=False, allow_blank=True)

    class Meta:
        model = DipId
        validators: list[object] = []  # services decide uniqueness, with coded errors
        fields = [
            "id",
            "value",
            "mpid_role",
            "mpid",
            "role_code",
            "environment",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_reason",
        ]
        read_only_fields = [
            "id",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_reason",
        ]


class DecisionSerializer(serializers.Serializer):
    value = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class NominationSerializer(serializers.ModelSerializer):
    dip_id = serializers.PrimaryKeyRelatedField(queryset=DipId.objects.all())
    dip_id_value = serializers.CharField(source="dip_id.value", read_only=True)
    dcp_id = serializers.CharField(max_length=20)
    # Optional for a client call; the model's default (not whitelisted) applies.
    whitelist_domains = serializers.BooleanField(required=False, default=False)

    class Meta:
        model = Nomination
        validators: list[object] = []  # services decide uniqueness, with coded errors
        fields = [
            "id",
            "dip_id",
            "dip_id_value",
            "dcp_id",
            "environment",
            "whitelist_domains",
            "status",
            "nominated_by",
            "created",
            "revoked_by",
            "revoked_at",
            "revoke_reason",
        ]
        read_only_fields = [
            "id",
            "environment",
            "status",
            "nominated_by",
            "created",
            "revoked_by",
            "revoked_at",
            "revoke_reason",
        ]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ApiKeySerializer(serializers.ModelSerializer):
    dip_id_value = serializers.CharField(source="dip_id.value", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "dip_id",
            "dip_id_value",
            "environment",
            "slot",
            "state",
            "fingerprint",
            "created",
            "created_by",
            "last_used_at",
            "retired_at",
            "retired_by",
        ]
        read_only_fields = fields


class IssuedKeySerializer(ApiKeySerializer):
    """A key as issued: the only response that ever carries the secret."""

    key = serializers.CharField(read_only=True)

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class KeyInputSerializer(serializers.Serializer):
    dip_id = serializers.PrimaryKeyRelatedField(queryset=DipId.objects.all())
    primary = serializers.CharField(required=False, allow_blank=True, default="")
    secondary = serializers.CharField(required=False, allow_blank=True, default="")
    key = serializers.CharField(required=False, allow_blank=True, default="")


class ChannelSerializer(serializers.ModelSerializer):
    dip_id = serializers.PrimaryKeyRelatedField(queryset=DipId.objects.all())
    dip_id_value = serializers.CharField(source="dip_id.value", read_only=True)
    webhook_url = serializers.SerializerMethodField()
    interface_id = serializers.CharField(max_length=10)

    class Meta:
        model = Channel
        validators: list[object] = []  # services decide uniqueness, with coded errors
        fields = [
            "id",
            "dip_id",
            "dip_id_value",
            "environment",
            "interface_id",
            "webhook_url",
            "obfuscated",
            "enabled",
            "created",
            "created_by",
        ]
        read_only_fields = ["id", "environment", "webhook_url", "created", "created_by"]

    def get_webhook_url(self, obj: Channel) -> str:
        return webhook_url(obj)


class PairingSerializer(serializers.ModelSerializer):
    dip_id = serializers.PrimaryKeyRelatedField(queryset=DipId.objects.all())

    class Meta:
        model = SdsMdrPairing
        validators: list[object] = []  # services decide uniqueness, with coded errors
        fields = [
            "id",
            "dip_id",
            "partner_name",
            "partner_mpid",
            "partner_dip_id",
            "active",
            "created",
            "created_by",
        ]
        read_only_fields = ["id", "active", "created", "created_by"]


class SelectionSerializer(serializers.ModelSerializer):
    dip_id = serializers.PrimaryKeyRelatedField(queryset=DipId.objects.all())

    class Meta:
        model = InterfaceSelection
        validators: list[object] = []  # services decide uniqueness, with coded errors
        fields = ["id", "dip_id", "interface_id", "enabled", "updated", "updated_by"]
        read_only_fields = ["id", "updated", "updated_by"]


class CertificationSerializer(serializers.ModelSerializer):
    dip_id = serializers.PrimaryKeyRelatedField(queryset=DipId.objects.all())

    class Meta:
        model = CertificationItem
        validators: list[object] = []  # services decide uniqueness, with coded errors
        fields = [
            "id",
            "dip_id",
            "kind",
            "interface_id",
            "status",
            "evidence",
            "reused_from",
            "updated",
            "updated_by",
        ]
        read_only_fields = ["id", "updated", "updated_by"]


class PromotionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PromotionChangeSet
        fields = [
            "id",
            "status",
            "diff",
            "created",
            "created_by",
            "decided_at",
            "decided_by",
            "reason",
            "approved_at",
            "approved_by",
        ]
        read_only_fields = fields


class MaySendQuerySerializer(serializers.Serializer):
    dcp_id = serializers.CharField()
    interface_id = serializers.CharField()
    dip_id = serializers.CharField()
    environment = serializers.ChoiceField(choices=Environment.choices)
