"""REST: client endpoints (``configuration.manage`` to change) and the pull feed.

``GET /api/v1/feed/?after=<seq>&limit=<n>`` returns events with ``seq > after`` in order, each
with the message itself for inbound messages, and ``next`` (the cursor to ask with next). Asking
with ``after=N`` acknowledges everything up to N for this API user (the durable server-side
cursor, ``GET /api/v1/feed/cursor/``) and counts those inbound messages as delivered.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission, TenantScopedMixin
from messaging.inbound import endpoints, feed
from messaging.inbound import status as replies
from messaging.inbound.api import serializers as s
from messaging.inbound.models import ClientEndpoint
from tenants.permissions import Action, acting_user

VIEW, MANAGE = Action.VIEW_CONFIGURATION, Action.MANAGE_CONFIGURATION


class ClientEndpointViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Client systems' push webhooks (Standard Webhooks signed). The secret is returned once,
    on create and rotate."""

    serializer_class = s.ClientEndpointSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": VIEW,
        "retrieve": VIEW,
        "create": MANAGE,
        "update": MANAGE,
        "partial_update": MANAGE,
        "rotate_secret": MANAGE,
        "pause": MANAGE,
        "resume": MANAGE,
        "replay": MANAGE,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = ClientEndpoint.objects.all()

    def _with_secret(self, result: endpoints.WithSecret, code: int) -> Response:
        data = s.EndpointWithSecretSerializer(
            result.endpoint, context={"secret": result.secret}
        ).data
        return Response(data, status=code)

    @extend_schema(responses={201: s.EndpointWithSecretSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        result = endpoints.create_endpoint(
            name=v.get("name", ""),
            url=v["url"],
            interfaces=v.get("interfaces") or [],
            directions=v.get("directions") or [],
            actor=acting_user(request),
        )
        return self._with_secret(result, status.HTTP_201_CREATED)

    def perform_update(self, serializer: Any) -> None:
        v = serializer.validated_data
        serializer.instance = endpoints.update_endpoint(
            endpoint=serializer.instance,
            actor=acting_user(self.request),
            name=v.get("name"),
            url=v.get("url"),
            interfaces=v.get("interfaces"),
            directions=v.get("directions"),
        )

    @extend_schema(request=None, responses={200: s.EndpointWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        result = endpoints.rotate_secret(endpoint=self.get_object(), actor=acting_user(request))
        return self._with_secret(result, status.HTTP_200_OK)

    @extend_schema(request=s.PauseSerializer, responses={200: s.ClientEndpointSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        ser = s.PauseSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        ep = endpoints.pause_endpoint(
            endpoint=self.get_object(),
            actor=acting_user(request),
            reason=ser.validated_data.get("reason", ""),
        )
        return Response(s.ClientEndpointSerializer(ep).data)

    @extend_schema(request=None, responses={200: s.ClientEndpointSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        ep = endpoints.resume_endpoint(endpoint=self.get_object(), actor=acting_user(request))
        return Response(s.ClientEndpointSerializer(ep).data)

    @extend_schema(
        request=s.ReplaySerializer,
        responses={200: inline_serializer("ReplayResult", {"events": serializers.IntegerField()})},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        ser = s.ReplaySerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        n = endpoints.replay_endpoint(
            endpoint=self.get_object(),
            actor=acting_user(request),
            from_seq=ser.validated_data["from_seq"],
        )
        return Response({"events": n})


FeedPage = inline_serializer(
    "FeedPage",
    {
        "events": serializers.ListField(child=serializers.DictField()),
        "next": serializers.IntegerField(),
    },
)


class FeedView(APIView):
    """The client feed (both directions), paged by ``seq``: never skips an event."""

    permission_classes = [ActionPermission]
    required_action = Action.VIEW_MESSAGES

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="last seq you have processed"),
            OpenApiParameter("limit", int, description="at most this many events (max 500)"),
        ],
        responses={200: FeedPage},
    )
    def get(self, request: Request) -> Response:
        try:
            after = max(0, int(request.query_params.get("after", "0")))
            limit = min(500, max(1, int(request.query_params.get("limit", "100"))))
        except ValueError as exc:  # the API's one error format (dcp.api.errors)
            raise ValidationError({"after": ["after and limit must be integers"]}) from exc
        consumer = acting_user(request).email
        page = feed.read(consumer=consumer, after=after, limit=limit)
        return Response({"events": page.events, "next": page.next})


class FeedCursorView(APIView):
    permission_classes = [ActionPermission]
    required_action = Action.VIEW_MESSAGES

    @extend_schema(
        responses={200: inline_serializer("FeedCursor", {"position": serializers.IntegerField()})}
    )
    def get(self, request: Request) -> Response:
        return Response({"position": feed.position(acting_user(request).email)})


class StatusReplyPolicyView(APIView):
    """Which status messages our clients' inbound messages get (docs/inbound.md "Status
    replies"): negative statuses for every issue always; ``RCP0000`` only where the policy is
    ``all`` (tenant default or per interface). GET needs ``configuration.view``; PUT
    ``configuration.manage`` (audited)."""

    permission_classes = [ActionPermission]
    required_actions = {"get": VIEW, "head": VIEW, "options": VIEW, "put": MANAGE}

    @extend_schema(responses={200: s.StatusReplyPolicySerializer})
    def get(self, request: Request) -> Response:
        return Response(s.StatusReplyPolicySerializer(replies.policy_overview()).data)

    @extend_schema(
        request=s.StatusReplyPolicySetSerializer, responses={200: s.StatusReplyPolicySerializer}
    )
    def put(self, request: Request) -> Response:
        ser = s.StatusReplyPolicySetSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        replies.set_reply_policy(
            interface_id=ser.validated_data.get("interface_id", ""),
            mode=ser.validated_data["mode"],
            actor=acting_user(request),
        )
        return Response(s.StatusReplyPolicySerializer(replies.policy_overview()).data)
