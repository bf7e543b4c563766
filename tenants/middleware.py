"""Host routing, tenant access and MFA enforcement.

Order (see settings.MIDDLEWARE): TenantRoutingMiddleware picks the schema from the host;
TenantAccessMiddleware (after authentication) decides whether this user may see this tenant
at all; RequireMfaMiddleware refuses sessions of people who must use MFA until allauth's MFA
step is recorded in the session (tenants.mfa)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django_tenants.middleware.main import TenantMainMiddleware

from dcp.db import current_schema
from tenants import mfa, permissions
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


SESSION_HOST_KEY = "dcp_host"


class SessionHostMiddleware:
    """A session belongs to the host it was made on. Cookies are host-only already (browsers
    never send one host's cookie to another); this also refuses a session id replayed on another
    host: that request runs with no session at all (the owner's session is left untouched).
    The host is bound at the first signed-in request, normally the sign-in itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = request.get_host()
        bound = request.session.get(SESSION_HOST_KEY)
        if bound is not None and bound != host:
            from importlib import import_module

            from django.contrib.auth.models import AnonymousUser

            engine = import_module(settings.SESSION_ENGINE)
            request.session = engine.SessionStore()
            request.user = AnonymousUser()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and bound is None:
            request.session[SESSION_HOST_KEY] = host
        return response


# Paths a signed-in user who must still set up MFA may reach (sign out, set up TOTP, health).
MFA_SETUP_ALLOWED = ("/accounts/", "/static/", "/healthz", "/readyz")
# Paths served whatever the session's state (no personal data, no session use).
ALWAYS_OPEN = ("/static/", "/healthz", "/readyz", "/metrics", "/dip/", "/.well-known/")


def _mfa_refusal(request: HttpRequest, message: str) -> HttpResponse | None:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "mfa_required", "message": message}, status=403)
    return None


class RequireMfaMiddleware:
    """MFA is enforced on the *session*, not on the account: a user the policy requires to use
    MFA (tenants.mfa.mfa_required) gets nothing until allauth has recorded an MFA
    authentication in this session (tenants.mfa.session_passed_mfa).

    - has an authenticator, session without MFA (made by any path but allauth's sign-in, or
      before the policy applied to them): signed out and sent to sign in again;
    - no authenticator yet: only account pages, to set up TOTP (activating it records the MFA
      step in the session); pages redirect there, the API answers 403 ``mfa_required``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(ALWAYS_OPEN)
            and not mfa.session_passed_mfa(request, user)
            and mfa.mfa_required(user)
        ):
            if mfa.has_second_factor(user):
                logout(request)
                refusal = _mfa_refusal(request, "Sign in with your authentication code.")
                return refusal or redirect_to_login(request.get_full_path())
            if not request.path.startswith(MFA_SETUP_ALLOWED):
                refusal = _mfa_refusal(request, "Set up multi-factor authentication first.")
                return refusal or HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


class ApiTokenExpiryMiddleware:
    """An expired API token (tenants.tokens) is refused here, before any view, so every API
    view — whatever authentication classes it lists — sees only live tokens."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and key.strip():
            from rest_framework.authtoken.models import Token

            from tenants.tokens import is_expired

            token = Token.objects.filter(key=key.strip()).first()
            if token is not None and is_expired(token):
                response = JsonResponse(
                    {
                        "code": "token_expired",
                        "message": "This API token has expired: issue a new one "
                        "(POST /api/v1/me/token/ after signing in with MFA).",
                    },
                    status=401,
                )
                response["WWW-Authenticate"] = "Token"
                return response
        return self.get_response(request)
