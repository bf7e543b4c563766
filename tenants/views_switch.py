"""Switching between hosts (platform console, tenants): each host has its own session cookie,
so the switcher hands the sign-in over with a one-time token (tenants.handoff)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tenants import handoff, permissions
from tenants.models import Tenant
from tenants.permissions import acting_user

# A navigation started on one of our own hosts (tenants are subdomains of one site).
_SAME_SITE = ("same-origin", "same-site")


@login_required
def switch_tenant(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("to", "")
    user = acting_user(request)
    if slug == "platform":
        target = Tenant.objects.filter(kind=Tenant.Kind.PLATFORM).first()
        if target is None or not user.staff_role:
            return render(request, "errors/not_found.html", status=404)
    else:
        target = Tenant.objects.filter(slug=slug, kind=Tenant.Kind.CLIENT).first()
        if target is None or not permissions.can_enter(user, target):
            return render(request, "errors/not_found.html", status=404)
    token = handoff.issue(request=request, user=user, tenant=target)
    return HttpResponseRedirect(target.url(f"/switch/continue/{token}/"))


@require_http_methods(["GET", "POST"])
def continue_switch(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST" or request.headers.get("Sec-Fetch-Site") in _SAME_SITE:
        if handoff.redeem(request=request, token=token) is None:
            return render(request, "tenants/switch_expired.html", status=410)
        return redirect("home")
    pending = handoff.peek(request=request, token=token)
    if pending is None:
        return render(request, "tenants/switch_expired.html", status=410)
    # Opened from elsewhere (another site, an old browser): ask before starting a session, so
    # no other site can sign this browser in as someone else.
    return render(request, "tenants/switch_confirm.html", {"pending": pending})
