"""Client API keys as a DRF authentication class, beside session and token auth.

``Authorization: Api-Key odcp_…`` authenticates a :class:`ClientPrincipal` (not a user): it has
only the key's scopes, and only in the tenant whose host it called (keys live in the tenant
schema, so another tenant's key is simply unknown here)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from dcp.api.permissions import ActionPermission
from messaging.outbound.models import ClientApiKey
from messaging.outbound.services.keys import authenticate
from tenants.permissions import Action

KEYWORD = "Api-Key"


class ClientPrincipal:
    is_authenticated = True
    is_active = True
    is_anonymous = False
    staff_role = ""

    def __init__(self, key: ClientApiKey) -> None:
        self.key = key
        self.email = f"key:{key.prefix}"

    def __str__(self) -> str:
        return f"client key {self.key.name} ({self.key.prefix})"

    def has_scope(self, scope: str) -> bool:
        return scope in self.key.scopes


class ClientApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ClientPrincipal, ClientApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(KEYWORD + " "):
            return None
        key = authenticate(header[len(KEYWORD) + 1 :].strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked client API key.")
        return ClientPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ClientApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "messaging.outbound.api.auth.ClientApiKeyAuthentication"
    name = "clientApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key odcp_…` (a tenant client API key)",
        }


def principal_label(request: Request) -> str:
    user = request.user
    if isinstance(user, ClientPrincipal):
        return user.email
    return f"user:{getattr(user, 'email', '')}"


class ScopeOrAction(BasePermission):
    """A client key needs the view's ``required_scope``; a user needs its action."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, ClientPrincipal):
            scope = getattr(view, "required_scope", None)
            return bool(scope) and user.has_scope(scope)
        return ActionPermission().has_permission(request, view)


SEND_SCOPE = ClientApiKey.Scope.SEND.value
READ_SCOPE = ClientApiKey.Scope.READ.value
SEND = Action.SEND_MESSAGES
READ = Action.VIEW_MESSAGES
