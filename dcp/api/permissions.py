"""DRF permission classes backed by the one permissions module."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants import permissions
from tenants.permissions import Action


def _tenant(request: Request) -> Any:
    tenant = getattr(request._request, "tenant", None)
    return None if tenant is None or tenant.is_platform else tenant


class TenantMember(BasePermission):
    """Default for every API view: on a tenant host, only people who may enter the tenant
    (members, DCP staff) get past; on the platform host, any signed-in user."""

    def has_permission(self, request: Request, view: Any) -> bool:
        tenant = _tenant(request)
        return tenant is None or permissions.can_enter(request.user, tenant)


class ActionPermission(BasePermission):
    """Grant by action: set ``required_actions = {"list": Action.X, "create": Action.Y, ...}`` (or
    ``required_action``) on the view. Unknown view actions are denied."""

    def has_permission(self, request: Request, view: Any) -> bool:
        required_actions: dict[str, Action] = getattr(view, "required_actions", {})
        name = getattr(view, "action", None) or request.method.lower()  # type: ignore[union-attr]
        action = required_actions.get(name) or getattr(view, "required_action", None)
        if action is None:
            return False
        return permissions.allowed(request.user, action, _tenant(request))


class TenantScopedMixin:
    """For viewsets over the current host's tenant. ``current_tenant`` is None on the platform
    host; during OpenAPI schema generation (no real request) querysets are empty."""

    @property
    def current_tenant(self) -> Any:
        return _tenant(self.request)  # type: ignore[attr-defined]

    @property
    def is_schema_generation(self) -> bool:
        return bool(getattr(self, "swagger_fake_view", False))
