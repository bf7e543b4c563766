"""Writes for tenants, people and invitations. Every function validates, writes, audits and
enqueues in one transaction; views, the API, admin and commands all call these."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from audit.services import record
from dcp.errors import invalid
from tenants.models import Domain, Invitation, Membership, Tenant, User, build_url, hash_token
from tenants.permissions import Action, require
from tenants.roles import ClientRole, StaffRole

log = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = frozenset({"www", "api", "admin", "public", "static", "media", "sandbox", "dip"})


def _schema_for(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


def validate_slug(slug: str) -> None:
    if not SLUG_RE.match(slug):
        raise invalid(
            "Use 3-40 lower-case letters, digits or hyphens, starting with a letter.",
            code="invalid_slug",
            field="slug",
        )
    if slug in RESERVED_SLUGS:
        raise invalid(f"'{slug}' is reserved.", code="reserved_slug", field="slug")
    if Tenant.objects.filter(slug=slug).exists():
        raise invalid(f"A tenant with slug '{slug}' exists.", code="duplicate", field="slug")


@dataclass(frozen=True)
class CreatedTenant:
    tenant: Tenant
    invitation: Invitation | None
    invitation_token: str | None


def ensure_public_tenant() -> Tenant:
    """The platform's own row for the public schema, served at the bare BASE_DOMAIN."""
    tenant = Tenant.objects.filter(schema_name=settings.PUBLIC_SCHEMA_NAME).first()
    if tenant is None:
        tenant = Tenant(
            schema_name=settings.PUBLIC_SCHEMA_NAME,
            name="OpenDCP platform",
            slug="platform",
            kind=Tenant.Kind.PLATFORM,
        )
        tenant.save()
    Domain.objects.get_or_create(
        domain=settings.BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True}
    )
    return tenant


def create_tenant(
    *,
    name: str,
    slug: str,
    actor: User,
    admin_email: str | None = None,
    market_role_summary: str = "",
) -> CreatedTenant:
    """Create a client tenant: row, schema with migrations, domain, and (optionally) the
    invitation of its first client admin. Only ``dcp_admin`` may do it."""
    require(actor, Action.MANAGE_TENANTS, None)
    name = name.strip()
    if not name:
        raise invalid("A name is required.", code="required", field="name")
    validate_slug(slug)
    with transaction.atomic():
        tenant = Tenant(
            schema_name=_schema_for(slug),
            name=name,
            slug=slug,
            market_role_summary=market_role_summary,
        )
        tenant.save(verbosity=0)  # creates the schema and runs tenant migrations
        Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
        record(
            action="tenant.created",
            actor=actor,
            target=tenant,
            summary=f"Created tenant {name} ({slug})",
            changes={"name": name, "slug": slug, "schema": tenant.schema_name},
            staff_context=True,
        )
        with tenant_context(tenant):
            record(
                action="tenant.created",
                actor=actor,
                target=tenant,
                staff_context=True,
                summary=f"Tenant created by DCP staff {actor.email}",
            )
        invitation, token = None, None
        if admin_email:
            invitation, token = invite(
                tenant=tenant, email=admin_email, role=ClientRole.CLIENT_ADMIN, actor=actor
            )
    return CreatedTenant(tenant, invitation, token)


def set_tenant_status(*, tenant: Tenant, status: str, reason: str, actor: User) -> Tenant:
    """Suspend, reactivate or move a tenant through offboarding."""
    require(actor, Action.MANAGE_TENANTS, None)
    if tenant.is_platform:
        raise invalid("The platform tenant's status cannot change.", code="platform")
    allowed_moves = {
        Tenant.Status.ACTIVE: {Tenant.Status.SUSPENDED, Tenant.Status.OFFBOARDING},
        Tenant.Status.SUSPENDED: {Tenant.Status.ACTIVE, Tenant.Status.OFFBOARDING},
        Tenant.Status.OFFBOARDING: {Tenant.Status.OFFBOARDED, Tenant.Status.ACTIVE},
        Tenant.Status.OFFBOARDED: set(),
    }
    if status not in allowed_moves[Tenant.Status(tenant.status)]:
        raise invalid(
            f"A tenant cannot go from {tenant.status} to {status}.", code="invalid_transition"
        )
    if status != Tenant.Status.ACTIVE and not reason.strip():
        raise invalid("Give a reason.", code="required", field="reason")
    with transaction.atomic():
        before = tenant.status
        tenant.status, tenant.status_reason = status, reason.strip()
        tenant.status_changed = timezone.now()
        tenant.save(update_fields=["status", "status_reason", "status_changed"])
        changes = {"status": [before, status], "reason": reason}
        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            record(
                action=f"tenant.status.{status}",
                actor=actor,
                target=tenant,
                changes=changes,
                staff_context=True,
            )
        with tenant_context(tenant):
            record(
                action=f"tenant.status.{status}",
                actor=actor,
                target=tenant,
                changes=changes,
                staff_context=True,
            )
    return tenant


def invite(
    *,
    email: str,
    actor: User,
    tenant: Tenant | None = None,
    role: str = "",
    staff_role: str = "",
) -> tuple[Invitation, str]:
    """Invite someone to a tenant with a client role, or (tenant=None) to DCP staff. Returns
    the invitation and its one-time token (emailed; only its hash is stored)."""
    email = User.objects.normalize_email(email).lower()
    if tenant is not None:
        require(actor, Action.MANAGE_MEMBERS, tenant)
        if role not in ClientRole.values:
            raise invalid(f"Unknown role '{role}'.", code="invalid_role", field="role")
        if Membership.objects.filter(tenant=tenant, user__email=email).exists():
            raise invalid(f"{email} is already a member.", code="duplicate", field="email")
        if not tenant.is_active:
            raise invalid(f"Tenant {tenant} is {tenant.status}.", code="tenant_inactive")
    else:
        require(actor, Action.MANAGE_STAFF, None)
        if staff_role not in StaffRole.values:
            raise invalid("Choose a staff role.", code="invalid_role", field="staff_role")
    token = Invitation.new_token()
    with transaction.atomic():
        # A newer invitation supersedes pending ones for the same address and tenant.
        Invitation.objects.filter(
            email=email, tenant=tenant, status=Invitation.Status.PENDING
        ).update(status=Invitation.Status.REVOKED)
        invitation = Invitation.objects.create(
            email=email,
            tenant=tenant,
            role=role,
            staff_role=staff_role,
            token_hash=hash_token(token),
            invited_by=actor,
            expires=timezone.now() + settings.INVITATION_TTL,
        )
        _audit_in(
            tenant,
            action="invitation.created",
            actor=actor,
            target=invitation,
            changes={"email": email, "role": role or staff_role},
        )
        link = build_url(settings.BASE_DOMAIN, f"/invitations/{token}/")
        where = tenant.name if tenant else "OpenDCP (DCP staff)"
        subject = f"You are invited to {where}"
        body = (
            f"{actor.display_name} invited you to {where} as {role or staff_role}.\n\n"
            f"Accept within {settings.INVITATION_TTL.days} days: {link}\n"
        )
        transaction.on_commit(lambda: _send_invitation_email(email, subject, body))
    return invitation, token


def _send_invitation_email(email: str, subject: str, body: str) -> None:
    """The invitation is saved either way; a mail failure is logged, not shown as an error
    page (the inviter can re-send, which supersedes the pending invitation)."""
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[email])
    except Exception:
        log.exception("could not send the invitation email to %s", email)


def _audit_in(tenant: Tenant | None, **kwargs: object) -> None:
    if tenant is None:
        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            record(**kwargs)  # type: ignore[arg-type]
    else:
        with tenant_context(tenant):
            record(**kwargs)  # type: ignore[arg-type]


class InvitationError(ValidationError):
    pass


def find_invitation(token: str) -> Invitation:
    """The pending invitation for ``token`` or an InvitationError saying why not."""
    invitation = (
        Invitation.objects.select_related("tenant").filter(token_hash=hash_token(token)).first()
    )
    if invitation is None:
        raise InvitationError("This invitation link is not valid.", code="unknown")
    if invitation.status == Invitation.Status.ACCEPTED:
        raise InvitationError("This invitation has already been used.", code="used")
    if invitation.status == Invitation.Status.REVOKED:
        raise InvitationError("This invitation was withdrawn.", code="revoked")
    if invitation.is_expired:
        _audit_in(
            invitation.tenant,
            action="invitation.expired_use",
            actor=None,
            target=invitation,
            summary=f"Expired invitation used for {invitation.email}",
        )
        raise InvitationError("This invitation has expired. Ask for a new one.", code="expired")
    return invitation


def accept_invitation(
    *, token: str, user: User | None = None, password: str | None = None, full_name: str = ""
) -> User:
    """Accept an invitation as the signed-in ``user`` (whose email must match) or by creating
    the account with ``password``."""
    with transaction.atomic():
        invitation = find_invitation(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != Invitation.Status.PENDING:
            raise InvitationError("This invitation has already been used.", code="used")
        if user is None:
            user = User.objects.filter(email=invitation.email).first()
            if user is not None:
                raise InvitationError(
                    "An account with this email exists: sign in first, then open the link.",
                    code="sign_in",
                )
            if not password:
                raise InvitationError({"password": "Choose a password."}, code="required")
            user = User.objects.create_user(
                email=invitation.email, password=password, full_name=full_name
            )
        elif user.email.lower() != invitation.email:
            raise InvitationError(
                f"This invitation is for {invitation.email}; you are signed in as {user.email}.",
                code="wrong_user",
            )
        if invitation.tenant is not None:
            Membership.objects.update_or_create(
                user=user, tenant=invitation.tenant, defaults={"role": invitation.role}
            )
        else:
            user.staff_role = invitation.staff_role
            user.save(update_fields=["staff_role"])
        invitation.status = Invitation.Status.ACCEPTED
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
        _audit_in(
            invitation.tenant,
            action="invitation.accepted",
            actor=user,
            target=invitation,
            changes={"role": invitation.role or invitation.staff_role},
        )
    return user


def revoke_invitation(*, invitation: Invitation, actor: User) -> Invitation:
    if invitation.tenant is not None:
        require(actor, Action.MANAGE_MEMBERS, invitation.tenant)
    else:
        require(actor, Action.MANAGE_STAFF, None)
    if invitation.status != Invitation.Status.PENDING:
        raise invalid("Only a pending invitation can be withdrawn.", code="not_pending")
    with transaction.atomic():
        invitation.status = Invitation.Status.REVOKED
        invitation.save(update_fields=["status"])
        _audit_in(invitation.tenant, action="invitation.revoked", actor=actor, target=invitation)
    return invitation


def _admins_left(tenant: Tenant, excluding: Membership) -> int:
    return (
        Membership.objects.filter(tenant=tenant, role=ClientRole.CLIENT_ADMIN)
        .exclude(pk=excluding.pk)
        .count()
    )


def change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    require(actor, Action.MANAGE_MEMBERS, membership.tenant)
    if role not in ClientRole.values:
        raise invalid(f"Unknown role '{role}'.", code="invalid_role", field="role")
    if (
        membership.role == ClientRole.CLIENT_ADMIN
        and role != ClientRole.CLIENT_ADMIN
        and _admins_left(membership.tenant, membership) == 0
    ):
        raise invalid("A tenant must keep at least one client admin.", code="last_admin")
    with transaction.atomic():
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        _audit_in(
            membership.tenant,
            action="member.role_changed",
            actor=actor,
            target=membership,
            changes={"role": [before, role], "user": membership.user.email},
        )
    return membership


def remove_member(*, membership: Membership, actor: User) -> None:
    require(actor, Action.MANAGE_MEMBERS, membership.tenant)
    if (
        membership.role == ClientRole.CLIENT_ADMIN
        and _admins_left(membership.tenant, membership) == 0
    ):
        raise invalid("A tenant must keep at least one client admin.", code="last_admin")
    with transaction.atomic():
        _audit_in(
            membership.tenant,
            action="member.removed",
            actor=actor,
            target=membership,
            changes={"user": membership.user.email, "role": membership.role},
        )
        membership.delete()
