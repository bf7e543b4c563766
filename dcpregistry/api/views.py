"""Platform-host API for our DCP status and DCP IDs (DCP staff)."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dcp.api.permissions import ActionPermission
from dcpregistry import selectors, services
from dcpregistry.api import serializers as s
from dcpregistry.models import DcpId, DcpStatus
from tenants.permissions import Action, acting_user


class DcpStatusViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Our DCP status per environment: request (dcp_admin), decide (relaying the DIP Manager)."""

    serializer_class = s.DcpStatusSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": Action.VIEW_PLATFORM,
        "request_status": Action.MANAGE_DCP_IDS,
        "decide": Action.APPROVE_REQUESTS,
    }
    queryset = DcpStatus.objects.all()
    filterset_fields = ["environment", "status"]

    @extend_schema(request=s.DcpStatusRequestSerializer, responses={201: s.DcpStatusSerializer})
    # Not named ``request``: that would shadow the view's request (and break schema generation).
    @action(detail=False, methods=["post"], url_path="request")
    def request_status(self, request: Request) -> Response:
        data = s.DcpStatusRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        obj = services.request_dcp_status(actor=acting_user(request), **data.validated_data)
        return Response(s.DcpStatusSerializer(obj).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DcpStatusDecisionSerializer, responses=s.DcpStatusSerializer)
    @action(detail=False, methods=["post"])
    def decide(self, request: Request) -> Response:
        data = s.DcpStatusDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        obj = services.decide_dcp_status(actor=acting_user(request), **data.validated_data)
        return Response(s.DcpStatusSerializer(obj).data)


class DcpIdFilter(filters.FilterSet):
    assigned = filters.BooleanFilter()

    class Meta:
        model = DcpId
        fields = ["environment", "status", "batch", "value"]


class DcpIdViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Our DCP IDs; create one (random, unassigned) or a bulk set; retire an unassigned one."""

    serializer_class = s.DcpIdSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": Action.VIEW_PLATFORM,
        "retrieve": Action.VIEW_PLATFORM,
        "create": Action.MANAGE_DCP_IDS,
        "retire": Action.MANAGE_DCP_IDS,
    }
    filterset_class = DcpIdFilter
    ordering_fields = ["value", "created", "environment"]
    queryset = DcpId.objects.none()

    def get_queryset(self) -> QuerySet[DcpId]:
        return selectors.dcp_ids_with_assignment().order_by("environment", "value")

    @extend_schema(request=s.DcpIdCreateSerializer, responses={201: s.DcpIdSerializer(many=True)})
    def create(self, request: Request) -> Response:
        data = s.DcpIdCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.create_dcp_ids(actor=acting_user(request), **data.validated_data)
        return Response(s.DcpIdSerializer(created, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.DcpIdSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        obj = services.retire_dcp_id(dcp_id=self.get_object(), actor=acting_user(request))
        return Response(s.DcpIdSerializer(obj).data)
