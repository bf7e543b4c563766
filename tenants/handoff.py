"""Handing a sign-in from one host to another (the tenant switcher).

Session cookies are host-only (docs/security.md, "Sessions and cookies"), so a person who works
in several tenants, or DCP staff opening a tenant, would sign in again on every host. Instead
the host they are signed in on issues a one-time token for one target host; the target host
redeems it and starts its own session carrying the same allauth authentication records
(password, MFA, with their original times), so the MFA policy sees the same sign-in.

The token is random (the cache holds only its hash), lives ``LOGIN_HANDOFF_SECONDS``, is used
once, works only on the host it was issued for, and dies with a password change (the session
auth hash is checked). Redeeming starts a session, so it must not be triggered by another site
(login CSRF): the view redeems at once only for a same-site navigation (``Sec-Fetch-Site``) and
otherwise asks for a click on a CSRF-protected form.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib.auth import login
from django.core.cache import cache
from django.http import HttpRequest
from django_tenants.utils import schema_context

from audit.services import record
from tenants.models import Tenant, User

_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


@dataclass(frozen=True)
class Handoff:
    user: User
    host: str


def _key(token: str) -> str:
    return "login-handoff:" + hashlib.sha256(token.encode()).hexdigest()


def _host_of(tenant: Tenant) -> str:
    return settings.BASE_DOMAIN if tenant.is_platform else tenant.primary_host


def _request_host(request: HttpRequest) -> str:
    host = request.get_host()
    return host.rsplit(":", 1)[0] if not host.endswith("]") else host


def issue(*, request: HttpRequest, user: User, tenant: Tenant) -> str:
    """A one-time token that signs ``user`` in on ``tenant``'s host as they are signed in here."""
    token = secrets.token_urlsafe(32)
    data = {
        "user": user.pk,
        "host": _host_of(tenant),
        "hash": user.get_session_auth_hash(),
        "records": get_authentication_records(request, user),
    }
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        cache.set(_key(token), data, settings.LOGIN_HANDOFF_SECONDS)
        record(
            action="auth.handoff_issued",
            actor=user,
            target=user,
            request=request,
            summary=f"Sign-in handed over to {data['host']}",
            changes={"from": _request_host(request), "to": data["host"]},
        )
    return token


def _load(token: str, request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        data = cache.get(_key(token))
    if not isinstance(data, dict) or data.get("host") != _request_host(request):
        return None
    user = User.objects.filter(pk=int(data.get("user") or 0), is_active=True).first()
    if user is None or user.get_session_auth_hash() != data.get("hash"):
        return None
    return user, data


def peek(*, request: HttpRequest, token: str) -> Handoff | None:
    """Who the token would sign in here (nothing is used up)."""
    loaded = _load(token, request)
    return Handoff(loaded[0], loaded[1]["host"]) if loaded else None


def redeem(*, request: HttpRequest, token: str) -> User | None:
    """Sign the token's user in on this host, once; None if unknown, used, expired or for
    another host."""
    loaded = _load(token, request)
    if loaded is None:
        return None
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        if not cache.delete(_key(token)):
            return None  # redeemed by a concurrent request
    user, data = loaded
    from allauth.account.internal.flows.login import record_authentication

    login(request, user, backend=_BACKEND)
    for rec in data.get("records") or []:
        if isinstance(rec, dict) and rec.get("method"):
            extra = {k: v for k, v in rec.items() if k not in ("method", "handoff")}
            record_authentication(request, user, str(rec["method"]), **extra, handoff=True)
    return user
