"""Helpers shared by the participants services: the current tenant, permission checks and
audit records written in the current tenant's chain (and, for cross-schema changes, in the
public chain as well)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from audit.services import record
from dcp.errors import invalid
from tenants import permissions
from tenants.models import Tenant, User
from tenants.permissions import Action


def current_tenant() -> Tenant:
    tenant = getattr(connection, "tenant", None)
    if not isinstance(tenant, Tenant):  # schema_context() sets a stand-in; find the real row
        tenant = Tenant.objects.filter(schema_name=getattr(connection, "schema_name", "")).first()
    if tenant is None or tenant.is_platform:
        raise RuntimeError("participants services run inside a client tenant's schema")
    return tenant


def require_here(actor: User, action: Action) -> Tenant:
    tenant = current_tenant()
    permissions.require(actor, action, tenant)
    return tenant


def audit(*, actor: User | None, public_too: bool = False, **kwargs: Any) -> None:
    """Record in the current tenant's chain; ``public_too`` also in the platform's chain."""
    staff = bool(actor is not None and actor.staff_role)
    record(actor=actor, staff_context=staff, **kwargs)
    if public_too:
        tenant = current_tenant()
        changes = {**(kwargs.pop("changes", None) or {}), "tenant": tenant.slug}
        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            record(actor=actor, staff_context=staff, changes=changes, **kwargs)


def new_dip_id_value() -> str:
    """A random 10-digit DIP ID, standing in for the one the DIP portal issues."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}"


def email_of(actor: User | None) -> str:
    return actor.email if actor is not None else "system"


def not_found(what: str, value: str, field: str) -> Exception:
    return invalid(f"Unknown {what} {value!r}.", code=f"unknown_{field}", field=field)
