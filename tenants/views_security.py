"""Security pages: the tenant MFA policy (client admins) and TOTP activation."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.views import ActivateTOTPView
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tenants import mfa
from tenants.permissions import Action, acting_user
from tenants.views import _tenant, requires


@require_POST
@requires(Action.MANAGE_MEMBERS)
def mfa_policy(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    if tenant is None:
        return redirect("home")
    enabled = request.POST.get("mfa_for_all_members") == "on"
    mfa.set_mfa_for_all_members(tenant=tenant, enabled=enabled, actor=acting_user(request))
    messages.success(
        request,
        "Every member must now use two-factor authentication."
        if enabled
        else "Two-factor authentication is required of client admins and auditors.",
    )
    return redirect("members")


class ActivateTotpView(ActivateTOTPView):
    """allauth's TOTP activation, which also records the MFA step in this session: the user
    just typed a valid code from the new authenticator. Done in the request itself (not in
    allauth's on-commit signal), so the session that is saved with this response has it."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = self.request.user
        authenticator = Authenticator.objects.filter(
            user_id=user.pk, type=Authenticator.Type.TOTP
        ).first()
        if authenticator is not None:
            mfa.record_activation(self.request, user, authenticator)
        return response
