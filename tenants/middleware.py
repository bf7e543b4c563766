"""Host routing, tenant access and MFA enforcement.

Order (see settings.MIDDLEWARE): TenantRoutingMiddleware picks the schema from the host;
TenantAccessMiddleware (after authentication) decides whether this user may see this tenant
at all; RequireMfaMiddleware sends users who must use MFA but have none to set it up."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django_tenants.middleware.main import TenantMainMiddleware

from dcp.db import current_schema
from tenants import permissions
from tenants.permissions import acting_user

# Paths anyone may reach on any host (login, invitations, static files, health).
OPEN_PREFIXES = (
    "/accounts/",
    "/invitations/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/schema",
    "/dip/",  # DIP webhooks: authenticated by their signature, not a session
    "/.well-known/",  # the evidence public key: published to anyone who verifies a pack
)


class TenantRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' host → schema routing, with a plain 404 page for unknown hosts that
    names nothing about any tenant."""

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return render(request, "errors/unknown_host.html", status=404)


def _is_open(path: str) -> bool:
    return path.startswith(OPEN_PREFIXES)


class TenantAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or current_schema() == settings.PUBLIC_SCHEMA_NAME:
            return self.get_response(request)
        if tenant.status != tenant.Status.ACTIVE and not request.path.startswith("/static/"):
            # Suspended or offboarded: a clear page and no data, whoever asks.
            return render(request, "errors/tenant_unavailable.html", {"tenant": tenant}, status=403)
        user = request.user
        if _is_open(request.path) or not user.is_authenticated:
            return self.get_response(request)
        if not permissions.can_enter(user, tenant):
            # 404, not 403: a non-member learns nothing about what exists here.
            return render(request, "errors/not_found.html", status=404)
        if permissions.is_staff_access(user, tenant):
            self._audit_staff_access(request)
        return self.get_response(request)

    @staticmethod
    def _audit_staff_access(request: HttpRequest) -> None:
        from audit.services import record

        key = f"staff_access:{request.tenant.pk}"  # type: ignore[attr-defined]
        if request.session.get(key):
            return
        record(
            action="staff.tenant_access",
            actor=acting_user(request),
            request=request,
            staff_context=True,
            summary=f"DCP staff opened {request.path}",
        )
        request.session[key] = True


MFA_SETUP_ALLOWED = ("/accounts/", "/static/", "/healthz", "/readyz")


class RequireMfaMiddleware:
    """MFA is mandatory for DCP staff and auditors: until they add an authenticator, every
    page except account pages redirects to the TOTP set-up page (the API answers 403)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(MFA_SETUP_ALLOWED)
            and not request.session.get("mfa_ok")
        ):
            from allauth.mfa.models import Authenticator

            if permissions.mfa_required(user):
                has_totp = Authenticator.objects.filter(
                    user=user, type=Authenticator.Type.TOTP
                ).exists()
                if not has_totp:
                    if request.path.startswith("/api/"):
                        from django.http import JsonResponse

                        return JsonResponse(
                            {
                                "code": "mfa_required",
                                "message": "Set up multi-factor authentication first.",
                            },
                            status=403,
                        )
                    return HttpResponseRedirect(reverse("mfa_activate_totp"))
            request.session["mfa_ok"] = True
        return self.get_response(request)
