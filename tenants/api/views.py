"""REST endpoints for tenants, members, invitations and the signed-in user."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission, TenantScopedMixin
from tenants import services
from tenants.api.serializers import (
    InvitationSerializer,
    MembershipSerializer,
    MeSerializer,
    StaffInvitationSerializer,
    TenantCreateSerializer,
    TenantSerializer,
    TenantStatusSerializer,
)
from tenants.models import Invitation, Membership, Tenant
from tenants.permissions import Action, acting_user


class MeView(APIView):
    """The signed-in user and the tenants they belong to."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class CurrentTenantView(APIView):
    """The tenant this host serves."""

    permission_classes = [ActionPermission]
    required_action = Action.VIEW_TENANT

    @extend_schema(responses=TenantSerializer)
    def get(self, request: Request) -> Response:
        return Response(TenantSerializer(request._request.tenant).data)  # type: ignore[attr-defined]


class TenantFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Name or slug contains")

    class Meta:
        model = Tenant
        fields = ["status"]

    def search(self, qs: QuerySet[Tenant], name: str, value: str) -> QuerySet[Tenant]:
        from django.db.models import Q

        return qs.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class TenantViewSet(viewsets.ReadOnlyModelViewSet):
    """Client tenants (DCP staff, on the platform host)."""

    serializer_class = TenantSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": Action.VIEW_PLATFORM,
        "retrieve": Action.VIEW_PLATFORM,
        "create": Action.MANAGE_TENANTS,
        "set_status": Action.MANAGE_TENANTS,
    }
    filterset_class = TenantFilter
    ordering_fields = ["name", "created", "status"]
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Tenant]:
        return Tenant.objects.filter(kind=Tenant.Kind.CLIENT).order_by("name")

    @extend_schema(request=TenantCreateSerializer, responses={201: TenantSerializer})
    def create(self, request: Request) -> Response:
        data = TenantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.create_tenant(actor=acting_user(request), **data.validated_data)
        return Response(TenantSerializer(created.tenant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TenantStatusSerializer, responses=TenantSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request: Request, slug: str | None = None) -> Response:
        data = TenantStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.set_tenant_status(
            tenant=self.get_object(),
            actor=acting_user(request),
            **data.validated_data,
        )
        return Response(TenantSerializer(tenant).data)


class MembershipViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of the current tenant. Client admins change roles and remove members."""

    serializer_class = MembershipSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": Action.VIEW_MEMBERS,
        "retrieve": Action.VIEW_MEMBERS,
        "update": Action.MANAGE_MEMBERS,
        "partial_update": Action.MANAGE_MEMBERS,
        "destroy": Action.MANAGE_MEMBERS,
    }
    filterset_fields = ["role"]
    ordering_fields = ["created", "user__email", "role"]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    queryset = Membership.objects.none()

    def get_queryset(self) -> QuerySet[Membership]:
        if self.is_schema_generation:
            return Membership.objects.none()
        return (
            Membership.objects.filter(tenant=self.current_tenant)
            .select_related("user", "tenant")
            .order_by("user__email")
        )

    def perform_update(self, serializer: Any) -> None:
        role = serializer.validated_data.get("role", serializer.instance.role)
        services.change_role(
            membership=serializer.instance, role=role, actor=acting_user(self.request)
        )

    def perform_destroy(self, instance: Membership) -> None:
        services.remove_member(membership=instance, actor=acting_user(self.request))


class InvitationViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Invitations to the current tenant (tenant host) or to DCP staff (platform host)."""

    permission_classes = [ActionPermission]
    filterset_fields = ["status", "role"]
    ordering_fields = ["created", "expires"]

    queryset = Invitation.objects.none()

    @property
    def _tenant(self) -> Tenant | None:
        return None if self.is_schema_generation else self.current_tenant

    @property
    def required_actions(self) -> dict[str, Action]:
        if self._tenant is None:
            return {a: Action.MANAGE_STAFF for a in ("list", "retrieve", "create", "revoke")}
        # As the members page: pending invitations (emails, roles) are for those who manage
        # members; viewers see the members, not who has been invited.
        return {a: Action.MANAGE_MEMBERS for a in ("list", "retrieve", "create", "revoke")}

    def get_serializer_class(self) -> type[InvitationSerializer]:
        return InvitationSerializer if self._tenant else StaffInvitationSerializer

    def get_queryset(self) -> QuerySet[Invitation]:
        if self.is_schema_generation:
            return Invitation.objects.none()
        return Invitation.objects.filter(tenant=self._tenant).select_related("invited_by")

    def perform_create(self, serializer: Any) -> None:
        invitation, _token = services.invite(
            email=serializer.validated_data["email"],
            actor=acting_user(self.request),
            tenant=self._tenant,
            role=serializer.validated_data.get("role", ""),
            staff_role=serializer.validated_data.get("staff_role", ""),
        )
        serializer.instance = invitation

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        invitation = services.revoke_invitation(
            invitation=self.get_object(), actor=acting_user(request)
        )
        return Response(self.get_serializer(invitation).data)
