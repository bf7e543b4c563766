"""Signing people in from tests the way allauth signs them in.

A real sign-in through allauth leaves authentication records in the session: ``password``,
then ``mfa`` once the MFA stage accepted a code. ``RequireMfaMiddleware`` reads those records,
so a bare ``Client.force_login`` (which bypasses allauth) would leave a session that has not
passed MFA — exactly what the middleware refuses.

``force_login`` in tests stands for the full allauth sign-in: ``record_forced_login`` (connected
in tests/__init__.py) adds the records allauth would have written — ``mfa`` only when the user
has a second factor, as allauth's MFA stage runs only then. Tests that need a session which has
*not* passed MFA sign in through /accounts/login/ or call ``forget_mfa(client)``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.test import Client


def _is_force_login(request: Any) -> bool:
    # Django's test Client._login builds a bare HttpRequest (no request line in META) to call
    # login(); every request the client really sends has REQUEST_METHOD.
    return isinstance(request, HttpRequest) and "REQUEST_METHOD" not in request.META


def record_forced_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if not _is_force_login(request):
        return
    from allauth.account.internal.flows.login import record_authentication
    from allauth.mfa.models import Authenticator

    from tenants.mfa import MFA_METHOD, SECOND_FACTORS

    record_authentication(request, user, "password", email=user.email)
    authenticator = Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).first()
    if authenticator is not None:
        record_authentication(
            request, user, MFA_METHOD, id=authenticator.pk, type=authenticator.type
        )


def forget_mfa(client: Client) -> None:
    """Drop the ``mfa`` record from a test client's session (a session that skipped MFA)."""
    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY

    session = client.session
    records = session.get(AUTHENTICATION_METHODS_SESSION_KEY) or []
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [r for r in records if r.get("method") != "mfa"]
    session.save()
