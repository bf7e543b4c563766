"""API tokens (DRF ``Token``): issued only here, to a person whose *session* passed MFA, audited,
and valid for ``API_TOKEN_TTL`` from issue. One token per person: issuing again replaces it.

A token is as strong as the sign-in that minted it, so it cannot mint another (the endpoint
takes session authentication only). Expired tokens are refused before any view runs
(tenants.middleware.ApiTokenExpiryMiddleware), whichever authentication classes a view lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from audit.services import record
from tenants import mfa
from tenants.models import User
from tenants.permissions import Action, PermissionDenied


@dataclass(frozen=True)
class IssuedToken:
    key: str
    created: datetime
    expires_at: datetime


def expires_at(token: Token) -> datetime:
    return token.created + settings.API_TOKEN_TTL


def is_expired(token: Token) -> bool:
    return timezone.now() >= expires_at(token)


def current_token(*, user: User) -> Token | None:
    return Token.objects.filter(user=user).first()


def issue_api_token(*, request: HttpRequest, user: User) -> IssuedToken:
    if not mfa.session_passed_mfa(request, user):
        raise PermissionDenied(
            Action.VIEW_TENANT,
            "API tokens are issued only to a session that signed in with MFA: sign in with "
            "your authentication code (set one up under Two-factor authentication).",
        )
    with schema_context(settings.PUBLIC_SCHEMA_NAME), transaction.atomic():
        replaced = Token.objects.filter(user=user).delete()[0] > 0
        token = Token.objects.create(user=user)
        record(
            action="auth.api_token_issued",
            actor=user,
            target=user,
            request=request,
            summary="API token issued" + (" (replacing the previous one)" if replaced else ""),
            changes={"expires_at": expires_at(token).isoformat(), "replaced": replaced},
        )
    return IssuedToken(token.key, token.created, expires_at(token))


def revoke_api_token(*, request: HttpRequest, user: User) -> bool:
    with schema_context(settings.PUBLIC_SCHEMA_NAME), transaction.atomic():
        deleted = Token.objects.filter(user=user).delete()[0] > 0
        if deleted:
            record(
                action="auth.api_token_revoked",
                actor=user,
                target=user,
                request=request,
                summary="API token revoked",
            )
    return deleted
