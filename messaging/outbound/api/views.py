"""Client API of the outbound pipeline (tenant host). Thin: ``services.submit`` decides."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission, TenantScopedMixin
from dcp.api.schema import ErrorSerializer
from dip.client import ENVIRONMENTS
from messaging.models import Message
from messaging.outbound import selectors
from messaging.outbound.api import serializers as s
from messaging.outbound.api.auth import (
    READ,
    READ_SCOPE,
    SEND,
    SEND_SCOPE,
    ClientApiKeyAuthentication,
    ScopeOrAction,
    principal_label,
)
from messaging.outbound.models import ClientApiKey
from messaging.outbound.services import keys
from messaging.outbound.services.submit import SubmissionRefused, submit
from tenants.permissions import Action, acting_user

AUTH = [ClientApiKeyAuthentication, SessionAuthentication, TokenAuthentication]


def _error(exc: SubmissionRefused) -> Response:
    return Response(
        {"code": exc.code, "message": exc.message, "details": exc.details or None},
        status=exc.status,
    )


class SubmitView(APIView):
    """Submit one message or a batch for an interface as one of the tenant's DIP IDs.

    Validated at levels 1-3 before anything is stored; 202 means the messages, their raw
    bytes and outbox entries are committed. ``Idempotency-Key``: the same key with the same
    body returns the first answer (200); with a different body, 409."""

    authentication_classes = AUTH
    permission_classes = [ScopeOrAction]
    required_action = SEND
    required_scope = SEND_SCOPE

    @extend_schema(
        request=s.SubmitSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False
            )
        ],
        responses={
            202: s.SubmissionResultSerializer,
            200: s.SubmissionResultSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        data = s.SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            result = submit(
                dip_id=v["dip_id"],
                interface_id=v["interface_id"],
                environment=v.get("environment", ""),
                items=v["messages"],  # each item is validated by dip, not reshaped
                principal=principal_label(request),
                idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
            )
        except SubmissionRefused as exc:
            return _error(exc)
        code = status.HTTP_200_OK if result.replayed else status.HTTP_202_ACCEPTED
        return Response(result.body, status=code)


class MessageStatusView(APIView):
    """One message's state, timeline, attempts' outcome, status reports and exceptions."""

    authentication_classes = AUTH
    permission_classes = [ScopeOrAction]
    required_action = READ
    required_scope = READ_SCOPE

    @extend_schema(responses=s.MessageStatusSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        message = get_object_or_404(
            Message.objects.select_related("outbox").prefetch_related(
                "transitions", "exceptions", "status_reports"
            ),
            public_id=public_id,
        )
        return Response(s.MessageStatusSerializer(message).data)


class AvailabilityView(APIView):
    """Whether the DIP takes messages, per environment, and this tenant's backlog. While the
    DIP is unavailable submissions are still accepted (202) and queued; they are sent in
    per-MPAN order once it answers again. ``?environment=UIT`` narrows the list."""

    authentication_classes = AUTH
    permission_classes = [ScopeOrAction]
    required_action = READ
    required_scope = READ_SCOPE

    @extend_schema(
        parameters=[
            OpenApiParameter("environment", OpenApiTypes.STR, OpenApiParameter.QUERY, False)
        ],
        responses=s.AvailabilitySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        environment = (request.query_params.get("environment") or "").upper()[:10]
        if environment and environment not in ENVIRONMENTS:
            return Response(
                {
                    "code": "invalid_environment",
                    "message": f"environment must be one of {', '.join(ENVIRONMENTS)}",
                    "details": None,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        rows = selectors.availability(environment or None)
        data = [{**r.__dict__, "summary": r.summary} for r in rows]
        return Response(s.AvailabilitySerializer(data, many=True).data)


class ClientApiKeyViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Any]
):
    """Client API keys (named, scoped, revocable; the key is shown once)."""

    permission_classes = [ActionPermission]
    required_actions = {
        "list": Action.VIEW_CONFIGURATION,
        "create": Action.MANAGE_CONFIGURATION,
        "revoke": Action.MANAGE_CONFIGURATION,
    }
    serializer_class = s.ClientApiKeySerializer
    queryset = ClientApiKey.objects.all()

    @extend_schema(
        request=s.ClientApiKeyCreateSerializer, responses={201: s.IssuedClientApiKeySerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.ClientApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = keys.create_key(actor=acting_user(request), **data.validated_data)
        body = {**s.ClientApiKeySerializer(issued.key).data, "key": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.ClientApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        key = keys.revoke_key(key=self.get_object(), actor=acting_user(request))
        return Response(s.ClientApiKeySerializer(key).data)
