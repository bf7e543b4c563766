"""Audit of authentication events (public schema: people are platform-wide)."""

from __future__ import annotations

from typing import Any

from allauth.mfa import signals as mfa_signals
from django.conf import settings
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver
from django_tenants.utils import schema_context

from audit.services import Actor, record


def _audit(action: str, request: Any, actor: Any, **extra: Any) -> None:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        record(action=action, actor=actor, request=request, **extra)


@receiver(auth_signals.user_logged_in)
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _audit("auth.login", request, user, target=user)


@receiver(auth_signals.user_logged_out)
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        _audit("auth.logout", request, user, target=user)


@receiver(auth_signals.user_login_failed)
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    email = str(credentials.get("email") or credentials.get("username") or "")[:254]
    _audit(
        "auth.login_failed",
        request,
        Actor(None, email, "anonymous"),
        summary=f"Failed sign-in for {email}",
    )


@receiver(mfa_signals.authentication_failed)
def on_mfa_failed(
    sender: Any,
    request: Any = None,
    user: Any = None,
    reauthentication: bool = False,
    **kwargs: Any,
) -> None:
    _audit("auth.mfa_failed", request, user, summary="Wrong MFA or recovery code")


@receiver(mfa_signals.authenticator_added)
def on_mfa_added(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    _audit("auth.mfa_added", request, user, changes={"type": authenticator.type})


@receiver(mfa_signals.authenticator_removed)
def on_mfa_removed(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    _audit("auth.mfa_removed", request, user, changes={"type": authenticator.type})


@receiver(mfa_signals.authenticator_used)
def on_mfa_used(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    _audit("auth.mfa_used", request, user, changes={"type": authenticator.type})
