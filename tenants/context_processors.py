from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from tenants import permissions
from tenants.models import Membership, Tenant


def tenancy(request: HttpRequest) -> dict[str, Any]:
    tenant: Tenant | None = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is not None and (tenant.is_platform or not permissions.can_enter(user, tenant)):
        tenant = None  # never name a tenant to someone who may not see it
    ctx: dict[str, Any] = {
        "current_tenant": tenant,
        "environment_badge": settings.DCP_ENVIRONMENT_BADGE,
        "platform_url": Tenant(schema_name="public", slug="platform").url("/")
        if tenant is not None
        else "/",
    }
    if user is not None and user.is_authenticated:
        memberships = list(
            Membership.objects.filter(user=user, tenant__status=Tenant.Status.ACTIVE)
            .select_related("tenant")
            .order_by("tenant__name")
        )
        ctx["my_memberships"] = memberships
        ctx["allowed_actions"] = {
            str(a) for a in permissions.actions_for(user, ctx["current_tenant"])
        }
    return ctx
