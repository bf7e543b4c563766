from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.http import HttpRequest

from dcp import vault

_MFA_CONTEXT = "allauth-mfa"


class AccountAdapter(DefaultAccountAdapter):
    """OpenDCP accounts exist by invitation only: open sign-up is closed."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class MfaAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are envelope-encrypted with our vault."""

    def encrypt(self, text: str) -> str:
        return vault.seal(text, context=_MFA_CONTEXT)

    def decrypt(self, encrypted_text: str) -> str:
        return vault.unseal(encrypted_text, context=_MFA_CONTEXT).decode()
