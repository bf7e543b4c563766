"""Who may do what: the one place that decides. Views, the API and services all ask here.

An *action* is a string constant below. ``allowed(user, action, tenant)`` answers for a user in
the context of a tenant (or of the platform, ``tenant=None`` / the public tenant). Client roles
come from the user's membership of that tenant; DCP staff roles apply to every tenant.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tenants.roles import ClientRole, StaffRole

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    from tenants.models import Tenant, User

    AnyUser = User | AnonymousUser | None


class Action(StrEnum):
    # tenant-scoped
    VIEW_TENANT = "tenant.view"
    VIEW_MEMBERS = "members.view"
    MANAGE_MEMBERS = "members.manage"
    VIEW_AUDIT = "audit.view"
    VIEW_MESSAGES = "messages.view"
    SEND_MESSAGES = "messages.send"
    OPERATE_MESSAGES = "messages.operate"  # replay, requeue, resolve exceptions
    VIEW_CONFIGURATION = "configuration.view"  # onboarding set-up: DIP IDs, channels, keys
    MANAGE_CONFIGURATION = "configuration.manage"  # DIP IDs, channels, keys, certificates
    VIEW_EVIDENCE = "evidence.view"
    # platform-scoped (DCP staff)
    VIEW_PLATFORM = "platform.view"
    MANAGE_TENANTS = "tenants.manage"
    MANAGE_STAFF = "staff.manage"
    APPROVE_REQUESTS = "requests.approve"  # DIP ID requests, DCP status, promotion change sets
    MANAGE_DCP_IDS = "dcp_ids.manage"  # the DCP organisation's status and DCP IDs


_VIEWER = {
    Action.VIEW_TENANT,
    Action.VIEW_MEMBERS,
    Action.VIEW_MESSAGES,
    Action.VIEW_CONFIGURATION,
}
_OPERATOR = _VIEWER | {Action.SEND_MESSAGES, Action.OPERATE_MESSAGES, Action.VIEW_AUDIT}
_CLIENT_ADMIN = _OPERATOR | {
    Action.MANAGE_MEMBERS,
    Action.MANAGE_CONFIGURATION,
    Action.VIEW_EVIDENCE,
}
_AUDITOR = {
    Action.VIEW_TENANT,
    Action.VIEW_MESSAGES,
    Action.VIEW_CONFIGURATION,
    Action.VIEW_AUDIT,
    Action.VIEW_EVIDENCE,
}

CLIENT_ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    ClientRole.CLIENT_ADMIN: frozenset(_CLIENT_ADMIN),
    ClientRole.CLIENT_OPERATOR: frozenset(_OPERATOR),
    ClientRole.CLIENT_VIEWER: frozenset(_VIEWER),
    ClientRole.AUDITOR: frozenset(_AUDITOR),
}

_STAFF_OPERATOR_TENANT = _OPERATOR | {Action.VIEW_EVIDENCE}
STAFF_ROLE_TENANT_ACTIONS: dict[str, frozenset[Action]] = {
    StaffRole.DCP_ADMIN: frozenset(_CLIENT_ADMIN),
    StaffRole.DCP_OPERATOR: frozenset(_STAFF_OPERATOR_TENANT),
}
STAFF_ROLE_PLATFORM_ACTIONS: dict[str, frozenset[Action]] = {
    StaffRole.DCP_ADMIN: frozenset(
        {
            Action.VIEW_PLATFORM,
            Action.MANAGE_TENANTS,
            Action.MANAGE_STAFF,
            Action.APPROVE_REQUESTS,
            Action.MANAGE_DCP_IDS,
        }
    ),
    StaffRole.DCP_OPERATOR: frozenset({Action.VIEW_PLATFORM}),
}
PLATFORM_ACTIONS = frozenset(
    {
        Action.VIEW_PLATFORM,
        Action.MANAGE_TENANTS,
        Action.MANAGE_STAFF,
        Action.APPROVE_REQUESTS,
        Action.MANAGE_DCP_IDS,
    }
)


def membership_role(user: User, tenant: Tenant) -> str | None:
    """The user's client role in ``tenant``, cached per user object for the request."""
    cache: dict[int, str | None] = user.__dict__.setdefault("_membership_roles", {})
    if tenant.pk not in cache:
        from tenants.models import Membership

        cache[tenant.pk] = (
            Membership.objects.filter(user=user, tenant=tenant)
            .values_list("role", flat=True)
            .first()
        )
    return cache[tenant.pk]


def actions_for(user: AnyUser, tenant: Tenant | None) -> frozenset[Action]:
    from tenants.models import User

    if not isinstance(user, User) or not user.is_active:
        return frozenset()
    if tenant is None or tenant.is_platform:
        return STAFF_ROLE_PLATFORM_ACTIONS.get(user.staff_role, frozenset())
    granted: set[Action] = set()
    role = membership_role(user, tenant)
    if role:
        granted |= CLIENT_ROLE_ACTIONS.get(role, frozenset())
    if user.staff_role:
        granted |= STAFF_ROLE_TENANT_ACTIONS.get(user.staff_role, frozenset())
    return frozenset(granted)


def allowed(user: AnyUser, action: Action, tenant: Tenant | None) -> bool:
    return action in actions_for(user, tenant)


def can_enter(user: AnyUser, tenant: Tenant) -> bool:
    """May the user see anything of this tenant at all?"""
    return allowed(user, Action.VIEW_TENANT, tenant)


def is_staff_access(user: User, tenant: Tenant) -> bool:
    """True when the user reaches the tenant only through a DCP staff role (audited)."""
    return bool(user.staff_role) and membership_role(user, tenant) is None


def mfa_required(user: User) -> bool:
    """MFA policy: see tenants.mfa (staff, auditors, client admins, tenants asking for all)."""
    from tenants.mfa import mfa_required as policy

    return policy(user)


class PermissionDenied(Exception):
    """Raised by services when the actor may not perform the action."""

    def __init__(self, action: Action, message: str | None = None) -> None:
        super().__init__(message or f"You are not allowed to perform '{action}'.")
        self.action = action


def require(user: AnyUser, action: Action, tenant: Tenant | None) -> None:
    if not allowed(user, action, tenant):
        raise PermissionDenied(action)


def acting_user(request: HttpRequest) -> User:
    """The signed-in user of a request, typed; views call services with it."""
    from tenants.models import User

    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied(Action.VIEW_TENANT, "Sign in first.")
    return user
