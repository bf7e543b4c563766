"""REST API: inventory, request, import, revoke, renew, switch-over, alerts, health. Errors
use the project format ``{"code","message","details"}`` (dcp.api.errors)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dcp.api.permissions import ActionPermission, TenantScopedMixin
from dcp.errors import invalid
from tenants.permissions import Action, acting_user

from .. import selectors, services, tasks
from ..models import Alert, Certificate
from ..providers import ProviderError
from .serializers import (
    AlertSerializer,
    CertificateSerializer,
    ImportSerializer,
    RequestSerializer,
    RevokeSerializer,
)

VIEW, MANAGE = Action.VIEW_CONFIGURATION, Action.MANAGE_CONFIGURATION


def _provider_error(exc: ProviderError) -> Response:
    return Response(
        {"code": "provider_error", "message": str(exc), "details": {"retryable": exc.retryable}},
        status=status.HTTP_502_BAD_GATEWAY if exc.retryable else status.HTTP_409_CONFLICT,
    )


class CertificateViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CertificateSerializer
    permission_classes = [ActionPermission]
    required_actions = {
        "list": VIEW,
        "retrieve": VIEW,
        "create": MANAGE,
        "import_certificate": MANAGE,
        "revoke": MANAGE,
        "renew": MANAGE,
    }
    filterset_fields = ["environment", "state", "usage", "provider"]
    ordering_fields = ["not_after", "created"]
    queryset = Certificate.objects.none()

    def get_queryset(self) -> QuerySet[Certificate]:
        if self.is_schema_generation:
            return Certificate.objects.none()
        return selectors.certificate_list(dip_id=self.request.query_params.get("dip_id", ""))

    def create(self, request: Request) -> Response:
        data = RequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cert = services.request_certificate(
            actor=acting_user(request._request), **data.validated_data
        )
        return Response(CertificateSerializer(cert).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=False, methods=["post"], url_path="import")
    def import_certificate(self, request: Request) -> Response:
        data = ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = dict(data.validated_data)
        try:
            pkcs12 = base64.b64decode(values.pop("pkcs12_base64"), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(
                "pkcs12_base64 is not base64.", code="pkcs12_invalid", field="pkcs12"
            ) from None
        cert = services.import_certificate(
            actor=acting_user(request._request), pkcs12=pkcs12, **values
        )
        return Response(CertificateSerializer(cert).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        data = RevokeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cert = self.get_object()
        try:
            cert = services.revoke_certificate(
                certificate_id=cert.pk,
                reason=data.validated_data["reason"],
                actor=acting_user(request._request),
            )
        except ProviderError as exc:
            return _provider_error(exc)
        return Response(CertificateSerializer(cert).data)

    @action(detail=True, methods=["post"])
    def renew(self, request: Request, pk: str) -> Response:
        cert = self.get_object()
        if cert.state != Certificate.State.ACTIVE or cert.provider == "imported":
            raise invalid(
                "Only active certificates from a provider can be renewed.", code="state_invalid"
            )
        tasks.renew_certificate.delay(cert.pk)
        return Response({"status": "renewal started"}, status=status.HTTP_202_ACCEPTED)


class AlertViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertSerializer
    permission_classes = [ActionPermission]
    required_actions = {"list": VIEW}
    filterset_fields = ["kind", "severity"]
    queryset = Alert.objects.none()

    def get_queryset(self) -> QuerySet[Alert]:
        return Alert.objects.none() if self.is_schema_generation else Alert.objects.all()


class HealthView(TenantScopedMixin, APIView):
    permission_classes = [ActionPermission]
    required_action = VIEW

    @extend_schema(
        responses=inline_serializer(
            "CertificateHealth",
            {
                "status": serializers.CharField(),
                "counts": serializers.DictField(child=serializers.IntegerField()),
                "problems": serializers.ListField(child=serializers.CharField()),
                "open_alerts": serializers.IntegerField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        report = selectors.health()
        return Response(
            {
                "status": report.status,
                "counts": report.counts,
                "problems": report.problems,
                "open_alerts": report.open_alerts,
            }
        )
