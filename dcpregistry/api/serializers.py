from __future__ import annotations

from rest_framework import serializers

from dcpregistry.environments import Environment
from dcpregistry.models import DcpId, DcpStatus


class DcpStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = DcpStatus
        fields = [
            "environment",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "reason",
        ]
        read_only_fields = fields


class DcpStatusRequestSerializer(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices)


class DcpStatusDecisionSerializer(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices)
    approve = serializers.BooleanField()
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DcpIdSerializer(serializers.ModelSerializer):
    assigned_to = serializers.SerializerMethodField()

    class Meta:
        model = DcpId
        fields = [
            "id",
            "value",
            "environment",
            "status",
            "batch",
            "note",
            "created",
            "created_by",
            "assigned_to",
        ]
        read_only_fields = fields

    def get_assigned_to(self, obj: DcpId) -> dict[str, str] | None:
        a = obj.assignments.filter(active=True).select_related("tenant").first()
        return {"tenant": a.tenant.slug, "dip_id": a.dip_id} if a else None


class DcpIdCreateSerializer(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices)
    count = serializers.IntegerField(min_value=1, default=1)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
