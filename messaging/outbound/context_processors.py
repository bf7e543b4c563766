"""``dip_outages`` on every tenant page: the banner "DIP unavailable since …"."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dcp.db import current_schema


def dip_availability(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if (
        tenant is None
        or getattr(tenant, "is_platform", True)
        or user is None
        or not user.is_authenticated
        or current_schema() != tenant.schema_name
    ):
        return {}
    from messaging.outbound.selectors import outages

    return {"dip_outages": outages()}
