from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets

from audit.models import AuditEvent
from dcp.api.permissions import ActionPermission
from tenants.permissions import Action


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "occurred_at",
            "actor_email",
            "actor_kind",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "summary",
            "changes",
            "request_id",
            "ip",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class AuditEventFilter(filters.FilterSet):
    occurred_after = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    action = filters.CharFilter(lookup_expr="startswith")
    actor_email = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor_email", "actor_kind", "target_type", "target_id"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit chain of the current schema (tenant host: that tenant; platform: staff)."""

    serializer_class = AuditEventSerializer
    permission_classes = [ActionPermission]
    filterset_class = AuditEventFilter
    ordering_fields = ["seq", "occurred_at"]
    lookup_field = "seq"

    queryset = AuditEvent.objects.none()

    @property
    def required_actions(self) -> dict[str, Action]:
        tenant = getattr(self.request._request, "tenant", None)
        needed = Action.VIEW_AUDIT if tenant and not tenant.is_platform else Action.VIEW_PLATFORM
        return {"list": needed, "retrieve": needed}

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.order_by("-seq")
