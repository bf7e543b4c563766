"""Evidence API: reconciliation reads, lineage, evidence packs and download links."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission, TenantScopedMixin
from evidence import reconciliation as recon
from evidence import services
from evidence.api.serializers import PackRequestSerializer, PackSerializer
from evidence.forms import ScopeForm
from evidence.models import EvidencePack
from evidence.selectors import Scope
from messaging.models import Message
from tenants.permissions import Action, acting_user


def _scope(request: Request) -> Scope:
    form = ScopeForm(request.query_params or None)
    if request.query_params and not form.is_valid():
        raise ValidationError(form.errors.get_json_data())
    return form.scope()


class _EvidenceView(TenantScopedMixin, APIView):
    permission_classes = [ActionPermission]
    required_action = Action.VIEW_EVIDENCE


class OperationalView(_EvidenceView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        scope = _scope(request)
        rows = [
            {**asdict(r), "not_acknowledged": r.not_acknowledged, "not_settled": r.not_settled}
            for r in recon.operational(scope)
        ]
        differences = [
            {
                "public_id": m.public_id,
                "interface_id": m.interface_id,
                "created": m.created,
                "state": m.state,
                "mpan_core": m.mpan_core,
            }
            for m in recon.operational_differences(scope)[: recon.DIFFERENCE_LIMIT]
        ]
        return Response({"scope": scope.as_dict(), "rows": rows, "differences": differences})


class BusinessView(_EvidenceView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        scope = _scope(request)
        return Response(
            {
                "scope": scope.as_dict(),
                "pairs": [
                    {
                        "request_interface_id": r.pair.request_interface_id,
                        "response_interface_id": r.pair.response_interface_id,
                        "limit_minutes": r.pair.limit_minutes,
                        "requests": r.requests,
                        "answered": r.answered,
                        "pending": r.pending,
                        "overdue": r.overdue,
                        "overdue_messages": [str(m.public_id) for m in r.overdue_messages],
                    }
                    for r in recon.business(scope)
                ],
            }
        )


class AssuranceView(_EvidenceView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        scope = _scope(request)
        return Response(
            {"scope": scope.as_dict(), "rows": [asdict(r) for r in recon.assurance(scope)]}
        )


class LineageView(_EvidenceView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, public_id: str) -> Response:
        message = get_object_or_404(Message.objects.select_related("raw"), public_id=public_id)
        result = recon.lineage(message)
        return Response(
            {
                "public_id": message.public_id,
                "interface_id": message.interface_id,
                "state": message.state,
                "steps": [asdict(s) for s in result.steps],
            }
        )


class PackViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[EvidencePack],
):
    permission_classes = [ActionPermission]
    required_actions = {
        "list": Action.VIEW_EVIDENCE,
        "retrieve": Action.VIEW_EVIDENCE,
        "create": Action.VIEW_EVIDENCE,
        "link": Action.VIEW_EVIDENCE,
    }
    serializer_class = PackSerializer
    lookup_field = "public_id"

    def get_queryset(self) -> Any:
        if self.is_schema_generation or self.current_tenant is None:
            return EvidencePack.objects.none()
        return EvidencePack.objects.all()

    @extend_schema(request=PackRequestSerializer, responses={202: PackSerializer})
    def create(self, request: Request) -> Response:
        body = PackRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            pack = services.request_pack(
                tenant=self.current_tenant,
                actor=acting_user(request._request),
                **body.validated_data,
            )
        except services.EvidenceError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(PackSerializer(pack).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "PackDownloadLink",
            {"url": serializers.URLField(), "expires_in": serializers.IntegerField()},
        ),
    )
    @action(detail=True, methods=["post"])
    def link(self, request: Request, public_id: str) -> Response:
        pack = self.get_object()
        if pack.status != EvidencePack.Status.READY:
            raise ValidationError({"detail": f"pack is {pack.status}, not ready"})
        token = services.download_token(pack=pack, user=acting_user(request._request))
        url = request.build_absolute_uri(reverse("evidence:download", args=[token]))
        return Response({"url": url, "expires_in": services.link_max_age()})
