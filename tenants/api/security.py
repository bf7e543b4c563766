"""``/api/v1/tenant/mfa-policy/``: whether every member of this tenant must use MFA."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission
from tenants import mfa
from tenants.permissions import Action, acting_user


class MfaPolicySerializer(serializers.Serializer):
    mfa_for_all_members = serializers.BooleanField(
        help_text="Require MFA of every member (client admins and auditors always need it)."
    )


class MfaPolicyView(APIView):
    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MEMBERS, "put": Action.MANAGE_MEMBERS}

    @extend_schema(responses=MfaPolicySerializer)
    def get(self, request: Request) -> Response:
        tenant = request._request.tenant  # type: ignore[attr-defined]
        return Response({"mfa_for_all_members": tenant.mfa_for_all_members})

    @extend_schema(request=MfaPolicySerializer, responses=MfaPolicySerializer)
    def put(self, request: Request) -> Response:
        body = MfaPolicySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tenant = mfa.set_mfa_for_all_members(
            tenant=request._request.tenant,  # type: ignore[attr-defined]
            enabled=body.validated_data["mfa_for_all_members"],
            actor=acting_user(request),
        )
        return Response({"mfa_for_all_members": tenant.mfa_for_all_members})
