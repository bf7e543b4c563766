from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.shortcuts import render

from dcp import vault
from tenants import login_throttle

_MFA_CONTEXT = "allauth-mfa"


def _login_of(request: HttpRequest, credentials: dict[str, Any]) -> str:
    login = credentials.get("email") or credentials.get("username")
    if not login and getattr(request, "user", None) is not None and request.user.is_authenticated:
        login = request.user.email  # reauthentication
    return str(login or "")


class AccountAdapter(DefaultAccountAdapter):
    """OpenDCP accounts exist by invitation only: open sign-up is closed. Failed passwords are
    throttled by tenants.login_throttle (growing delays per IP + account, 429 + Retry-After)
    instead of allauth's fixed window, which refused even the owner's right password."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        wait = login_throttle.retry_after(request, _login_of(request, credentials))
        if wait:
            response = render(
                request, "account/login_throttled.html", {"retry_after": wait}, status=429
            )
            response["Retry-After"] = str(wait)
            raise ImmediateHttpResponse(response)

    def authenticate(self, request: HttpRequest, **credentials: Any) -> AbstractBaseUser | None:
        user = super().authenticate(request, **credentials)
        if user is not None:
            login_throttle.record_success(request, _login_of(request, credentials))
        return user

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        login_throttle.record_failure(request, _login_of(request, credentials))


class MfaAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are envelope-encrypted with our vault."""

    def encrypt(self, text: str) -> str:
        return vault.seal(text, context=_MFA_CONTEXT)

    def decrypt(self, encrypted_text: str) -> str:
        return vault.unseal(encrypted_text, context=_MFA_CONTEXT).decode()
