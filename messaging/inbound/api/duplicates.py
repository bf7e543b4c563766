"""REST: the tenant's duplicate policy (docs/inbound.md "Duplicates").

``GET /api/v1/duplicate-policy/`` (``configuration.view``) and ``PUT`` (``configuration.manage``,
audited): whether suspected duplicates — the same interface, MPAN and content as an earlier
message under new references — still reach the client's systems (flagged) or are held.
Repeated sender references are never delivered; that is not a setting.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission
from messaging.inbound import duplicates
from tenants.permissions import Action, acting_user


class DuplicatePolicySerializer(serializers.Serializer[Any]):
    deliver_content_duplicates = serializers.BooleanField(
        help_text="true (default): suspected duplicates are delivered, flagged; false: held"
    )
    updated = serializers.DateTimeField(read_only=True, allow_null=True)
    updated_by = serializers.CharField(read_only=True)


class DuplicatePolicyView(APIView):
    permission_classes = [ActionPermission]
    required_actions = {
        "get": Action.VIEW_CONFIGURATION,
        "head": Action.VIEW_CONFIGURATION,
        "options": Action.VIEW_CONFIGURATION,
        "put": Action.MANAGE_CONFIGURATION,
    }

    @extend_schema(responses={200: DuplicatePolicySerializer})
    def get(self, request: Request) -> Response:
        return Response(DuplicatePolicySerializer(duplicates.policy_overview()).data)

    @extend_schema(request=DuplicatePolicySerializer, responses={200: DuplicatePolicySerializer})
    def put(self, request: Request) -> Response:
        ser = DuplicatePolicySerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        duplicates.set_duplicate_policy(
            deliver_content_duplicates=ser.validated_data["deliver_content_duplicates"],
            actor=acting_user(request),
        )
        return Response(DuplicatePolicySerializer(duplicates.policy_overview()).data)
