"""DCP staff view across tenants (platform host, /console/): every client's health on one
page — counts by state, open exceptions, oldest pending — and an audited drill-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django_tenants.utils import tenant_context

from audit.services import record
from console import dashboard
from messaging.models import Message, MessageException
from tenants.models import Tenant
from tenants.permissions import Action, acting_user
from tenants.views import requires


@dataclass
class TenantHealth:
    tenant: Tenant
    by_state: dict[str, int] = field(default_factory=dict)
    open_exceptions: int = 0
    oldest_pending: datetime | None = None
    error: str = ""

    @property
    def failures(self) -> int:
        return sum(self.by_state.get(s, 0) for s in ("failed", "rejected", "expired"))

    @property
    def pending(self) -> int:
        return sum(self.by_state.get(s, 0) for s in dashboard.PENDING)


def tenant_health(tenant: Tenant) -> TenantHealth:
    health = TenantHealth(tenant)
    try:
        with tenant_context(tenant):
            for row in Message.objects.values("state").annotate(n=Count("id")).order_by():
                health.by_state[row["state"]] = row["n"]
            health.open_exceptions = MessageException.objects.filter(
                status=MessageException.Status.OPEN
            ).count()
            health.oldest_pending = Message.objects.filter(state__in=dashboard.PENDING).aggregate(
                m=Min("created")
            )["m"]
    except Exception as exc:  # one broken schema must not hide every other tenant
        health.error = str(exc)[:200]
    return health


@requires(Action.VIEW_PLATFORM)
def overview(request: HttpRequest) -> HttpResponse:
    tenants = Tenant.objects.filter(kind=Tenant.Kind.CLIENT).order_by("name")
    rows = [tenant_health(t) for t in tenants]
    return render(request, "console/platform.html", {"rows": rows})


@requires(Action.VIEW_PLATFORM)
def drill_in(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug, kind=Tenant.Kind.CLIENT)
    record(
        action="console.staff.drill_in",
        actor=acting_user(request),
        target=tenant,
        summary=f"Viewed {tenant.name}'s message health",
        request=request,
        staff_context=True,
    )
    health = tenant_health(tenant)
    ctx: dict[str, Any] = {"health": health, "tenant": tenant}
    with tenant_context(tenant):
        ctx["groups"] = list(
            MessageException.objects.filter(status=MessageException.Status.OPEN)
            .values("category", "code")
            .annotate(n=Count("id"), oldest=Min("opened_at"))
            .order_by("oldest")[:50]
        )
        ctx["backlog"] = dashboard.backlog()
    return render(request, "console/platform_tenant.html", ctx)


app_name = "console_platform"
urlpatterns = [
    path("", overview, name="overview"),
    path("<slug:slug>/", drill_in, name="tenant"),
]
