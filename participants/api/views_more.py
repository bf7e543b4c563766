"""REST endpoints for extended MDR/SDS, promotion (tenant host) and for DCP staff on the
platform host: onboarding board, transfers, offboarding and the evidence export."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_tenants.utils import tenant_context
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission, TenantScopedMixin
from dcpregistry.models import Transfer
from participants import selectors
from participants.api import serializers as s
from participants.models import (
    CertificationItem,
    InterfaceSelection,
    PromotionChangeSet,
    SdsMdrPairing,
)
from participants.services import extended, offboarding, promotion, transfer
from tenants.models import Tenant
from tenants.permissions import Action, acting_user

VIEW = Action.VIEW_CONFIGURATION
MANAGE = Action.MANAGE_CONFIGURATION


class PairingViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.PairingSerializer
    permission_classes = [ActionPermission]
    required_actions = {"list": VIEW, "create": MANAGE}
    filterset_fields = ["dip_id", "active"]
    queryset = SdsMdrPairing.objects.all()

    def perform_create(self, serializer: Any) -> None:
        v = serializer.validated_data
        serializer.instance = extended.pair(
            dip_id=v["dip_id"],
            partner_name=v["partner_name"],
            partner_mpid=v["partner_mpid"],
            partner_dip_id=v["partner_dip_id"],
            actor=acting_user(self.request),
        )


class SelectionViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """POST sets (creates or updates) one optional/extended interface selection."""

    serializer_class = s.SelectionSerializer
    permission_classes = [ActionPermission]
    required_actions = {"list": VIEW, "create": MANAGE}
    filterset_fields = ["dip_id", "interface_id", "enabled"]
    queryset = InterfaceSelection.objects.all()

    def perform_create(self, serializer: Any) -> None:
        v = serializer.validated_data
        serializer.instance = extended.select_interface(
            dip_id=v["dip_id"],
            interface_id=v["interface_id"],
            enabled=v.get("enabled", True),
            actor=acting_user(self.request),
        )


class CertificationViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """POST records (creates or updates) one certification checklist item."""

    serializer_class = s.CertificationSerializer
    permission_classes = [ActionPermission]
    required_actions = {"list": VIEW, "create": MANAGE}
    filterset_fields = ["dip_id", "kind", "status"]
    queryset = CertificationItem.objects.all()

    def perform_create(self, serializer: Any) -> None:
        v = dict(serializer.validated_data)
        serializer.instance = extended.record_certification(actor=acting_user(self.request), **v)


class PromotionViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Promotion change sets: propose (client admin), approve then apply — two different DCP
    staff members — or reject (DCP staff, checked in the service), ``preview`` shows the diff
    and the certification gaps."""

    serializer_class = s.PromotionSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": VIEW,
        "retrieve": VIEW,
        "preview": VIEW,
        "create": MANAGE,
        "approve": VIEW,
        "apply": VIEW,
        "reject": VIEW,
    }
    filterset_fields = ["status"]
    queryset = PromotionChangeSet.objects.all()

    @extend_schema(
        responses=inline_serializer(
            "PromotionPreview",
            {
                "gaps": serializers.ListField(child=serializers.CharField()),
                "diff": serializers.JSONField(),
            },
        )
    )
    @action(detail=False, methods=["get"])
    def preview(self, request: Request) -> Response:
        return Response(
            {"gaps": selectors.certification_gaps("UIT"), "diff": promotion.build_diff()}
        )

    @extend_schema(request=None, responses={201: s.PromotionSerializer})
    def create(self, request: Request) -> Response:
        change_set = promotion.propose_promotion(actor=acting_user(request))
        return Response(s.PromotionSerializer(change_set).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.PromotionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        change_set = promotion.approve_promotion(
            change_set=self.get_object(), actor=acting_user(request)
        )
        return Response(s.PromotionSerializer(change_set).data)

    @extend_schema(request=None, responses=s.PromotionSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str | None = None) -> Response:
        change_set = promotion.apply_promotion(
            change_set=self.get_object(), actor=acting_user(request)
        )
        return Response(s.PromotionSerializer(change_set).data)

    @extend_schema(request=s.ReasonSerializer, responses=s.PromotionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        change_set = promotion.reject_promotion(
            change_set=self.get_object(),
            actor=acting_user(request),
            reason=data.validated_data["reason"],
        )
        return Response(s.PromotionSerializer(change_set).data)


# --- platform host ---------------------------------------------------------------------------


class TransferSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="slug", queryset=Tenant.objects.filter(kind="client")
    )
    target = serializers.SlugRelatedField(
        slug_field="slug", queryset=Tenant.objects.filter(kind="client")
    )
    dip_ids = serializers.ListField(child=serializers.CharField(max_length=20), allow_empty=False)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "kind",
            "source",
            "target",
            "dip_ids",
            "cutover_at",
            "status",
            "reason",
            "created",
            "created_by",
            "executed_at",
            "executed_by",
            "result",
        ]
        read_only_fields = [
            "id",
            "status",
            "created",
            "created_by",
            "executed_at",
            "executed_by",
            "result",
        ]


class TransferViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Trade sale / SoLR transfers between tenants (DCP staff)."""

    serializer_class = TransferSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": Action.VIEW_PLATFORM,
        "retrieve": Action.VIEW_PLATFORM,
        "create": Action.MANAGE_TENANTS,
        "execute": Action.MANAGE_TENANTS,
    }
    filterset_fields = ["status", "kind"]
    ordering_fields = ["cutover_at", "created"]
    queryset = Transfer.objects.select_related("source", "target")

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = transfer.schedule_transfer(
            actor=acting_user(self.request), **serializer.validated_data
        )

    @extend_schema(request=None, responses=TransferSerializer)
    @action(detail=True, methods=["post"])
    def execute(self, request: Request, pk: str | None = None) -> Response:
        done = transfer.execute_transfer(transfer=self.get_object(), actor=acting_user(request))
        return Response(TransferSerializer(done).data)


class OffboardSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    retention_days = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None
    )


class OffboardResultSerializer(serializers.Serializer):
    retain_until = serializers.DateField()
    summary = serializers.JSONField()
    export_sha256 = serializers.CharField()


class BoardStepSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]
    status = serializers.CharField()
    owner = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)
    blockers = serializers.CharField()


class BoardEnvironmentSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    blocked = serializers.IntegerField()
    total = serializers.IntegerField()
    steps = BoardStepSerializer(many=True)


class BoardRowSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    UIT = BoardEnvironmentSerializer()
    PRD = BoardEnvironmentSerializer()
    pending_requests = serializers.IntegerField()
    pending_promotions = serializers.IntegerField()


class PendingRequestSerializer(s.DipIdSerializer):
    tenant = serializers.CharField(read_only=True)

    class Meta(s.DipIdSerializer.Meta):
        fields = ["tenant", *s.DipIdSerializer.Meta.fields]


_SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The client's slug.")


def _client(slug: str) -> Tenant:
    return get_object_or_404(Tenant, slug=slug, kind=Tenant.Kind.CLIENT)


@extend_schema_view(list=extend_schema(responses=BoardRowSerializer(many=True)))
class OnboardingViewSet(viewsets.ViewSet):
    """The staff onboarding board (one row per client) plus offboarding and the export."""

    permission_classes = [ActionPermission]
    required_actions = {
        "list": Action.VIEW_PLATFORM,
        "export": Action.VIEW_PLATFORM,
        "offboard": Action.MANAGE_TENANTS,
    }
    lookup_field = "slug"

    def list(self, request: Request) -> Response:
        return Response(board_rows(Tenant.objects.filter(kind=Tenant.Kind.CLIENT).order_by("name")))

    @extend_schema(parameters=[_SLUG], responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def export(self, request: Request, slug: str | None = None) -> Response:
        return Response(
            offboarding.export_configuration(tenant=_client(slug or ""), actor=acting_user(request))
        )

    @extend_schema(
        parameters=[_SLUG], request=OffboardSerializer, responses=OffboardResultSerializer
    )
    @action(detail=True, methods=["post"])
    def offboard(self, request: Request, slug: str | None = None) -> Response:
        data = OffboardSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = offboarding.offboard_tenant(
            tenant=_client(slug or ""), actor=acting_user(request), **data.validated_data
        )
        return Response(
            {
                "retain_until": record.retain_until,
                "summary": record.summary,
                "export_sha256": record.export_sha256,
            }
        )


def board_rows(tenants: QuerySet[Tenant]) -> list[dict[str, Any]]:
    rows = []
    for tenant in tenants:
        with tenant_context(tenant):
            row: dict[str, Any] = {
                "slug": tenant.slug,
                "name": tenant.name,
                "status": tenant.status,
            }
            for env in ("UIT", "PRD"):
                summary = selectors.checklist_summary(env)
                row[env] = {
                    "done": summary.done,
                    "blocked": summary.blocked,
                    "total": summary.total,
                    "steps": [
                        {
                            "step": i.step,
                            "label": i.get_step_display(),
                            "status": i.status,
                            "owner": i.owner,
                            "due_date": i.due_date,
                            "blockers": i.blockers,
                        }
                        for i in selectors.checklist(env)
                    ],
                }
            row["pending_requests"] = selectors.dip_ids().filter(status="requested").count()
            row["pending_promotions"] = PromotionChangeSet.objects.filter(status="proposed").count()
        rows.append(row)
    return rows


class PendingRequestsView(APIView):
    """DIP ID requests waiting for a decision, across every client."""

    permission_classes = [ActionPermission]
    required_action = Action.APPROVE_REQUESTS

    @extend_schema(responses=PendingRequestSerializer(many=True))
    def get(self, request: Request) -> Response:
        out = []
        for tenant in Tenant.objects.filter(kind=Tenant.Kind.CLIENT, status=Tenant.Status.ACTIVE):
            with tenant_context(tenant):
                out += [
                    {"tenant": tenant.slug, **s.DipIdSerializer(d).data}
                    for d in selectors.dip_ids().filter(status="requested")
                ]
        return Response(out)
