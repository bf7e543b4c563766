"""MFA policy and the MFA state of a session.

*Policy* (who must use MFA): DCP staff, auditors and client admins always; every member of a
tenant that asks for it (``Tenant.mfa_for_all_members``).

*State* (did this session pass MFA): read from allauth's authentication records in the
session — the ``mfa`` record allauth writes when its MFA stage (or a reauthentication) accepts
a code, or the one we write when the user proves a new authenticator by activating it. Having
an authenticator proves nothing about a session: a session made by any other path (a
``login()`` elsewhere, a session from before the policy applied) has no such record and is
refused by ``tenants.middleware.RequireMfaMiddleware``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.db.models import Q

from tenants.roles import MFA_REQUIRED_CLIENT_ROLES

if TYPE_CHECKING:
    from django.http import HttpRequest

    from tenants.models import Tenant, User

MFA_METHOD = "mfa"
# Authenticators that count as a second factor at sign-in (recovery codes only back them up).
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def mfa_required(user: User) -> bool:
    """Must this person use MFA? Decided per person, not per host: a client admin of one tenant
    uses MFA on every host they reach."""
    if user.staff_role:
        return True
    from tenants.models import Membership

    return Membership.objects.filter(
        Q(role__in=MFA_REQUIRED_CLIENT_ROLES) | Q(tenant__mfa_for_all_members=True), user=user
    ).exists()


def has_second_factor(user: User) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


def session_passed_mfa(request: HttpRequest, user: Any) -> bool:
    """True when allauth recorded an MFA authentication of ``user`` in this session."""
    return any(
        isinstance(r, dict) and r.get("method") == MFA_METHOD
        for r in get_authentication_records(request, user)
    )


def record_activation(request: HttpRequest, user: Any, authenticator: Authenticator) -> None:
    """A user who just activated TOTP typed a valid code from it: record that in the session as
    allauth records a code given at sign-in, so the session counts as MFA-authenticated."""
    from allauth.account.internal.flows.login import record_authentication

    if authenticator.type in SECOND_FACTORS:
        record_authentication(
            request, user, MFA_METHOD, id=authenticator.pk, type=authenticator.type, activated=True
        )


def set_mfa_for_all_members(*, tenant: Tenant, enabled: bool, actor: User) -> Tenant:
    """A client admin (or DCP admin) extends the MFA requirement to every member of the tenant
    (or back to the default: client admins and auditors). Takes effect on each member's next
    request: a session that has not passed MFA is sent to set it up or to sign in again."""
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from audit.services import record
    from tenants.permissions import Action, require

    require(actor, Action.MANAGE_MEMBERS, tenant)
    with transaction.atomic():
        before = tenant.mfa_for_all_members
        tenant.mfa_for_all_members = enabled
        tenant.save(update_fields=["mfa_for_all_members"])
        if before != enabled:
            with tenant_context(tenant):
                record(
                    action="tenant.mfa_policy_changed",
                    actor=actor,
                    target=tenant,
                    changes={"mfa_for_all_members": [before, enabled]},
                )
    return tenant
