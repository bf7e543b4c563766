"""Console API (/api/v1/console/): search with keyset paging, export, bulk actions (dry run,
start, progress, pause/resume/cancel) and the dashboard data. Errors use dcp.api's format."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console import dashboard, search, services
from console.models import BulkAction
from dcp.api.permissions import ActionPermission, TenantScopedMixin
from messaging.models import Message
from tenants.permissions import Action


class MessageRowSerializer(serializers.ModelSerializer[Message]):
    class Meta:
        model = Message
        fields = (
            "id",
            "public_id",
            "created",
            "direction",
            "state",
            "interface_id",
            "event_code",
            "dip_id",
            "counterparty_dip_id",
            "mpan_core",
            "transaction_id",
            "correlation_id",
            "sender_unique_reference",
        )


class BulkActionSerializer(serializers.ModelSerializer[BulkAction]):
    class Meta:
        model = BulkAction
        fields = (
            "id",
            "kind",
            "params",
            "status",
            "total",
            "processed",
            "succeeded",
            "skipped",
            "percent",
            "pause_requested",
            "cancel_requested",
            "requested_by",
            "created",
            "started_at",
            "finished_at",
            "report",
        )


def _query(data: Any) -> tuple[search.SearchQuery, search.MpanList]:
    try:
        return search.build_query(data)
    except search.SearchError as exc:
        raise ValidationError(exc.errors) from exc


def _mpan_errors(mpans: search.MpanList) -> list[dict[str, Any]]:
    return [{"line": e.line, "value": e.value, "reason": e.reason} for e in mpans.errors[:1000]]


class SearchView(TenantScopedMixin, APIView):
    """GET with query parameters, or POST a JSON body (for thousands of MPANs)."""

    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MESSAGES, "post": Action.VIEW_MESSAGES}

    @extend_schema(operation_id="console_search_get", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return self._search(request.query_params, request.query_params)

    @extend_schema(
        operation_id="console_search_post",
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request: Request) -> Response:
        return self._search(request.data, request.query_params)

    def _search(self, data: Any, qp: Any) -> Response:
        query, mpans = _query(data)
        after = data.get("after") or qp.get("after")
        size = data.get("page_size") or qp.get("page_size") or 100
        try:
            page = search.page(query, after=int(after) if after else None, size=int(size))
        except ValueError as exc:
            raise ValidationError({"after": ["Use the next_cursor of the previous page."]}) from exc
        body: dict[str, Any] = {
            "results": MessageRowSerializer(page.items, many=True).data,
            "next_cursor": page.next_cursor,
            "mpan_errors": _mpan_errors(mpans),
        }
        if str(data.get("count", qp.get("count", "1"))) != "0":
            c = search.count(query)
            body["count"] = {"value": c.value, "exact": c.exact}
        return Response(body)


class ExportView(TenantScopedMixin, APIView):
    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MESSAGES}

    @extend_schema(operation_id="console_export", responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> Any:
        from console.views import export_response

        query, _ = _query(request.query_params)
        return export_response(query, request.query_params.get("format", "jsonl"))


class BulkActionsView(TenantScopedMixin, APIView):
    """POST ``{"kind": "requeue_outbound", "search": {...}, "dry_run": true}``; ``kind`` is
    also ``replay_inbound`` or ``redeliver_inbound``."""

    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MESSAGES, "post": Action.OPERATE_MESSAGES}

    @extend_schema(operation_id="console_bulk_actions_list", responses=BulkActionSerializer)
    def get(self, request: Request) -> Response:
        return Response(BulkActionSerializer(BulkAction.objects.all()[:100], many=True).data)

    @extend_schema(
        operation_id="console_bulk_actions_create",
        request=OpenApiTypes.OBJECT,
        responses=BulkActionSerializer,
    )
    def post(self, request: Request) -> Response:
        data: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
        kind = data.get("kind", BulkAction.Kind.REQUEUE_OUTBOUND)
        query, mpans = _query(data.get("search") or {})
        try:
            if data.get("dry_run", True):
                preview = services.dry_run(kind=kind, query=query)
                return Response(
                    {
                        "dry_run": True,
                        "matched": {"value": preview.count.value, "exact": preview.count.exact},
                        "eligible": {
                            "value": preview.eligible.value,
                            "exact": preview.eligible.exact,
                        },
                        "effect": preview.effect,
                        "sample": MessageRowSerializer(preview.sample, many=True).data,
                        "mpan_errors": _mpan_errors(mpans),
                    }
                )
            action = services.start_bulk(
                kind=kind,
                query=query,
                user=request.user,  # type: ignore[arg-type]
                chunk_size=int(data.get("chunk_size") or 500),
                rate_per_second=int(data.get("rate_per_second") or 2000),
            )
        except services.ConsoleRefused as exc:
            raise ValidationError({"kind": [str(exc)]}) from exc
        return Response(BulkActionSerializer(action).data, status=status.HTTP_202_ACCEPTED)


class BulkActionView(TenantScopedMixin, APIView):
    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MESSAGES}

    @extend_schema(operation_id="console_bulk_action_retrieve", responses=BulkActionSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(BulkActionSerializer(get_object_or_404(BulkAction, pk=pk)).data)


class BulkActionControlView(TenantScopedMixin, APIView):
    """``POST …/bulk-actions/<id>/<command>/`` with command = start, pause, resume or cancel."""

    permission_classes = [ActionPermission]
    required_actions = {"post": Action.OPERATE_MESSAGES}

    @extend_schema(
        operation_id="console_bulk_action_control", request=None, responses=BulkActionSerializer
    )
    def post(self, request: Request, pk: int, command: str) -> Response:
        action = get_object_or_404(BulkAction, pk=pk)
        try:
            action = services.control_bulk(
                action=action,
                command=command,
                user=request.user,  # type: ignore[arg-type]
            )
        except services.ConsoleRefused as exc:
            return Response(
                {"code": "conflict", "message": str(exc), "details": {}},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(BulkActionSerializer(action).data)


class DashboardView(TenantScopedMixin, APIView):
    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MESSAGES}

    @extend_schema(operation_id="console_dashboard", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        try:
            hours = max(1, min(int(request.query_params.get("hours", 24)), 24 * 31))
        except ValueError as exc:
            raise ValidationError({"hours": ["A whole number of hours."]}) from exc
        return Response(dashboard.summary(hours=hours))


urlpatterns = [
    path("console/search/", SearchView.as_view(), name="console-search"),
    path("console/export/", ExportView.as_view(), name="console-export"),
    path("console/bulk-actions/", BulkActionsView.as_view(), name="console-bulk-actions"),
    path("console/bulk-actions/<int:pk>/", BulkActionView.as_view(), name="console-bulk-action"),
    path(
        "console/bulk-actions/<int:pk>/<str:command>/",
        BulkActionControlView.as_view(),
        name="console-bulk-action-control",
    ),
    path("console/dashboard/", DashboardView.as_view(), name="console-dashboard"),
]
