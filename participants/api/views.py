"""REST endpoints for a client's onboarding set-up (tenant host). Thin: every write calls a
participants service; permissions come from tenants.permissions via ActionPermission, and
services check again (staff-only decisions are checked there)."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpResponse
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission, TenantScopedMixin
from participants import selectors
from participants.api import serializers as s
from participants.models import ApiKey, Channel, DipId, MpidRole, Nomination, OrganisationProfile
from participants.roles import DIP_ROLES
from participants.services import api_keys, channels, checklist, dip_ids, nominations, rules
from tenants.permissions import Action, acting_user

VIEW = Action.VIEW_CONFIGURATION
MANAGE = Action.MANAGE_CONFIGURATION


class DipRoleView(APIView):
    """The 18 DIP roles and their attributes (seed 000)."""

    permission_classes = [ActionPermission]
    required_action = VIEW

    @extend_schema(responses=s.DipRoleSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(s.DipRoleSerializer(DIP_ROLES, many=True).data)


class ProfileView(APIView):
    """The organisation's company details."""

    permission_classes = [ActionPermission]
    required_actions = {"get": VIEW, "put": MANAGE, "patch": MANAGE}

    @extend_schema(responses=s.ProfileSerializer)
    def get(self, request: Request) -> Response:
        # Nobody saved it yet: the defaults the first save starts from (updated: null).
        profile = selectors.profile() or OrganisationProfile(
            company_name=request._request.tenant.name  # type: ignore[attr-defined]
        )
        return Response(s.ProfileSerializer(profile).data)

    @extend_schema(request=s.ProfileSerializer, responses=s.ProfileSerializer)
    def put(self, request: Request) -> Response:
        data = s.ProfileSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        profile = checklist.update_profile(actor=acting_user(request), **data.validated_data)
        return Response(s.ProfileSerializer(profile).data)

    patch = put


class ChecklistView(APIView):
    """The eight onboarding steps per environment; PUT one step."""

    permission_classes = [ActionPermission]
    required_actions = {"get": VIEW, "put": MANAGE}

    @extend_schema(
        parameters=[s.ChecklistQuerySerializer], responses=s.ChecklistItemSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        query = s.ChecklistQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        env = query.validated_data.get("environment")
        envs = [env] if env else ["UIT", "PRD"]
        items = [i for env in envs for i in selectors.checklist(env)]
        return Response(s.ChecklistItemSerializer(items, many=True).data)

    @extend_schema(request=s.ChecklistUpdateSerializer, responses=s.ChecklistItemSerializer)
    def put(self, request: Request) -> Response:
        data = s.ChecklistUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = checklist.update_checklist_item(actor=acting_user(request), **data.validated_data)
        return Response(s.ChecklistItemSerializer(item).data)


class MpidRoleViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """MPID + DIP role combinations the client holds."""

    serializer_class = s.MpidRoleSerializer
    permission_classes = [ActionPermission]
    required_actions = {"list": VIEW, "retrieve": VIEW, "create": MANAGE, "destroy": MANAGE}
    filterset_fields = ["mpid", "role_code", "pre_approved"]
    ordering_fields = ["mpid", "role_code", "created"]
    queryset = MpidRole.objects.all()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = dip_ids.add_mpid_role(
            actor=acting_user(self.request), **serializer.validated_data
        )

    def perform_destroy(self, instance: MpidRole) -> None:
        dip_ids.remove_mpid_role(mpid_role=instance, actor=acting_user(self.request))


class DipIdFilter(filters.FilterSet):
    mpid = filters.CharFilter(field_name="mpid_role__mpid")
    role_code = filters.CharFilter(field_name="mpid_role__role_code")

    class Meta:
        model = DipId
        fields = ["environment", "status", "value"]


class DipIdViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """DIP IDs: create (pre-approved: active at once) or request; staff approve/reject."""

    serializer_class = s.DipIdSerializer
    permission_classes = [ActionPermission]
    # approve/reject: the service requires Action.APPROVE_REQUESTS (DCP staff).
    required_actions = {
        "list": VIEW,
        "retrieve": VIEW,
        "create": MANAGE,
        "approve": VIEW,
        "reject": VIEW,
    }
    filterset_class = DipIdFilter
    ordering_fields = ["environment", "status", "requested_at", "value"]
    queryset = DipId.objects.select_related("mpid_role")

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = dip_ids.create_dip_id(
            actor=acting_user(self.request), **serializer.validated_data
        )

    @extend_schema(request=s.DecisionSerializer, responses=s.DipIdSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        data = s.DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dip = dip_ids.approve_dip_id(
            dip_id=self.get_object(), actor=acting_user(request), value=data.validated_data["value"]
        )
        return Response(self.get_serializer(dip).data)

    @extend_schema(request=s.DecisionSerializer, responses=s.DipIdSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        data = s.DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dip = dip_ids.reject_dip_id(
            dip_id=self.get_object(),
            actor=acting_user(request),
            reason=data.validated_data["reason"],
        )
        return Response(self.get_serializer(dip).data)


class NominationViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Nominations of our DCP IDs for the client's DIP IDs, with history."""

    serializer_class = s.NominationSerializer
    permission_classes = [ActionPermission]
    required_actions = {"list": VIEW, "retrieve": VIEW, "create": MANAGE, "revoke": MANAGE}
    filterset_fields = ["environment", "status", "dcp_id", "whitelist_domains", "dip_id"]
    ordering_fields = ["created", "revoked_at"]
    queryset = Nomination.objects.select_related("dip_id")

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = nominations.nominate_dcp(
            actor=acting_user(self.request), **serializer.validated_data
        )

    @extend_schema(request=s.ReasonSerializer, responses=s.NominationSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        nomination = nominations.revoke_nomination(
            nomination=self.get_object(), actor=acting_user(request), **data.validated_data
        )
        return Response(self.get_serializer(nomination).data)


class ApiKeyViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    """DIP API keys (fingerprints only). Secrets appear once, in the response that issues them."""

    serializer_class = s.ApiKeySerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": VIEW,
        "retrieve": VIEW,
        "generate": MANAGE,
        "regenerate_secondary": MANAGE,
        "swap": MANAGE,
        "retire": MANAGE,
    }
    filterset_fields = ["environment", "slot", "state", "dip_id"]
    ordering_fields = ["created", "last_used_at"]
    queryset = ApiKey.objects.select_related("dip_id")

    def _issued(self, issued: list[api_keys.IssuedKey]) -> list[dict[str, Any]]:
        out = []
        for item in issued:
            data = dict(s.ApiKeySerializer(item.key).data)
            data["key"] = item.secret
            out.append(data)
        return out

    @extend_schema(request=s.KeyInputSerializer, responses={201: s.IssuedKeySerializer(many=True)})
    @action(detail=False, methods=["post"])
    def generate(self, request: Request) -> Response:
        data = s.KeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        issued = api_keys.generate_keys(
            dip_id=v["dip_id"],
            actor=acting_user(request),
            primary=v["primary"],
            secondary=v["secondary"],
        )
        return Response(self._issued(issued), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.KeyInputSerializer, responses={201: s.IssuedKeySerializer})
    @action(detail=False, methods=["post"], url_path="regenerate-secondary")
    def regenerate_secondary(self, request: Request) -> Response:
        data = s.KeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        issued = api_keys.regenerate_secondary(
            dip_id=v["dip_id"], actor=acting_user(request), secret=v["key"]
        )
        return Response(self._issued([issued])[0], status=status.HTTP_201_CREATED)

    @extend_schema(request=s.KeyInputSerializer, responses=s.ApiKeySerializer)
    @action(detail=False, methods=["post"])
    def swap(self, request: Request) -> Response:
        data = s.KeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = api_keys.swap_keys(dip_id=data.validated_data["dip_id"], actor=acting_user(request))
        return Response(s.ApiKeySerializer(key).data)

    @extend_schema(request=None, responses=s.ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        key = api_keys.retire_key(key=self.get_object(), actor=acting_user(request))
        return Response(s.ApiKeySerializer(key).data)


class ChannelFilter(filters.FilterSet):
    dip_id_value = filters.CharFilter(field_name="dip_id__value")

    class Meta:
        model = Channel
        fields = ["environment", "interface_id", "enabled", "obfuscated", "dip_id"]


class ChannelViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Message channels; ``export`` gives the CSV to register in the DIP portal."""

    serializer_class = s.ChannelSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": VIEW,
        "retrieve": VIEW,
        "create": MANAGE,
        "update": MANAGE,
        "partial_update": MANAGE,
        "export": VIEW,
    }
    filterset_class = ChannelFilter
    ordering_fields = ["interface_id", "created"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = Channel.objects.select_related("dip_id", "dip_id__mpid_role")

    def perform_create(self, serializer: Any) -> None:
        v = serializer.validated_data
        serializer.instance = channels.configure_channel(
            dip_id=v["dip_id"],
            interface_id=v["interface_id"],
            obfuscated=v.get("obfuscated", False),
            actor=acting_user(self.request),
        )

    def perform_update(self, serializer: Any) -> None:
        v = serializer.validated_data
        serializer.instance = channels.update_channel(
            channel=serializer.instance,
            actor=acting_user(self.request),
            enabled=v.get("enabled"),
            obfuscated=v.get("obfuscated"),
        )

    @extend_schema(responses={(200, "text/csv"): str})
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        return channel_csv(list(self.filter_queryset(self.get_queryset())))


def channel_csv(items: list[Channel]) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=channels.REGISTER_COLUMNS)
    writer.writeheader()
    writer.writerows(channels.registration_rows(items))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="dip-message-channels.csv"'
    return response


class MaySendView(APIView):
    """Ask the rule set: may DCP X send interface Y for DIP ID Z in environment E?"""

    permission_classes = [ActionPermission]
    required_action = VIEW

    @extend_schema(
        parameters=[s.MaySendQuerySerializer],
        responses=inline_serializer(
            "MaySendDecision",
            {
                "allowed": serializers.BooleanField(),
                "code": serializers.CharField(),
                "reason": serializers.CharField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        data = s.MaySendQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        decision = rules.may_send(**data.validated_data)
        return Response(
            {"allowed": decision.allowed, "code": decision.code, "reason": decision.reason}
        )
