"""Console API (/api/v1/console/): search with keyset paging, export, bulk actions (dry run,
start, progress, pause/resume/cancel) and the dashboard data. Errors use dcp.api's format."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console import api_inputs as inputs
from console import dashboard, search, services
from console.models import BulkAction
from dcp.api.permissions import ActionPermission, TenantScopedMixin
from dcp.api.schema import ErrorSerializer
from tenants.permissions import Action

COMMANDS = ("pause", "resume", "cancel")


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


def _mpan_errors(mpans: search.MpanList) -> list[dict[str, Any]]:
    return [{"line": e.line, "value": e.value, "reason": e.reason} for e in mpans.errors[:1000]]


class SearchView(TenantScopedMixin, APIView):
    """GET with query parameters, or POST a JSON object (for thousands of MPANs)."""

    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MESSAGES, "post": Action.VIEW_MESSAGES}

    @extend_schema(
        operation_id="console_search_get",
        parameters=[inputs.SearchRequestSerializer],
        responses=inputs.SearchPageSerializer,
    )
    def get(self, request: Request) -> Response:
        return self._search(request.query_params)

    @extend_schema(
        operation_id="console_search_post",
        request=inputs.SearchRequestSerializer,
        responses=inputs.SearchPageSerializer,
    )
    def post(self, request: Request) -> Response:
        return self._search(request.data)

    def _search(self, data: Any) -> Response:
        params = inputs.SearchRequestSerializer(data=data)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        query, mpans = v["_query"], v["_mpans"]
        page = search.page(query, after=v.get("after"), size=v["page_size"])
        body: dict[str, Any] = {
            "results": inputs.MessageRowSerializer(page.items, many=True).data,
            "next_cursor": page.next_cursor,
            "mpan_errors": _mpan_errors(mpans),
        }
        if v["count"]:
            c = search.count(query)
            body["count"] = {"value": c.value, "exact": c.exact}
        return Response(body)


class _FormatIsAParameter(DefaultContentNegotiation):
    """``?format=csv|jsonl`` is the export's own parameter, not DRF's renderer override (which
    answers 404 for a format that no renderer has)."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)  # type: ignore[assignment]


class ExportView(TenantScopedMixin, APIView):
    content_negotiation_class = _FormatIsAParameter
    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MESSAGES}

    @extend_schema(
        operation_id="console_export",
        parameters=[inputs.ExportQuerySerializer],
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request) -> Any:
        from console.views import export_response

        params = inputs.ExportQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        return export_response(v["_query"], v["format"])


class BulkActionsView(TenantScopedMixin, APIView):
    """POST ``{"kind": "requeue_outbound", "search": {...}, "dry_run": true}``; ``kind`` is
    also ``replay_inbound`` or ``redeliver_inbound``."""

    permission_classes = [ActionPermission]
    required_actions = {"get": Action.VIEW_MESSAGES, "post": Action.OPERATE_MESSAGES}

    @extend_schema(
        operation_id="console_bulk_actions_list", responses=BulkActionSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return Response(BulkActionSerializer(BulkAction.objects.all()[:100], many=True).data)

    @extend_schema(
        operation_id="console_bulk_actions_create",
        request=inputs.BulkActionRequestSerializer,
        responses={200: inputs.DryRunSerializer, 202: BulkActionSerializer},
    )
    def post(self, request: Request) -> Response:
        params = inputs.BulkActionRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        kind, query = v["kind"], v["search"]["_query"]
        try:
            if v["dry_run"]:
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
                        "sample": inputs.MessageRowSerializer(preview.sample, many=True).data,
                        "mpan_errors": _mpan_errors(v["search"]["_mpans"]),
                    }
                )
            action = services.start_bulk(
                kind=kind,
                query=query,
                user=request.user,  # type: ignore[arg-type]
                chunk_size=v["chunk_size"],
                rate_per_second=v["rate_per_second"],
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
    """``POST …/bulk-actions/<id>/<command>/`` with command = pause, resume or cancel; a
    finished action answers 409."""

    permission_classes = [ActionPermission]
    required_actions = {"post": Action.OPERATE_MESSAGES}

    @extend_schema(
        operation_id="console_bulk_action_control",
        parameters=[OpenApiParameter("command", str, OpenApiParameter.PATH, enum=COMMANDS)],
        request=None,
        responses={200: BulkActionSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request, pk: int, command: str) -> Response:
        if command not in COMMANDS:
            raise NotFound(f"No command {command[:40]!r}: use {', '.join(COMMANDS)}.")
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

    @extend_schema(
        operation_id="console_dashboard",
        parameters=[
            OpenApiParameter(
                "hours", int, description="Window in hours (1 to 744; out-of-range is clamped)."
            )
        ],
        responses=OpenApiTypes.OBJECT,
    )
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
