from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from audit.services import Actor, record
from tenants.models import Invitation, User, build_url, hash_token
from tenants.roles import StaffRole
from tenants.services import ensure_public_tenant


class Command(BaseCommand):
    help = (
        "Prepare a new deployment (idempotent): the platform tenant and its domain "
        "(BASE_DOMAIN), and optionally an invitation for the first DCP admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-email", help="invite this address as the first dcp_admin")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        tenant = ensure_public_tenant()
        self.stdout.write(f"platform tenant ready at {build_url(settings.BASE_DOMAIN, '/')}")
        email = options.get("admin_email")
        if not email:
            return
        if User.objects.exclude(staff_role="").exists():
            self.stdout.write("DCP staff already exist; no invitation created.")
            return
        token = Invitation.new_token()
        from django.utils import timezone

        invitation = Invitation.objects.create(
            email=email.lower(),
            staff_role=StaffRole.DCP_ADMIN,
            token_hash=hash_token(token),
            expires=timezone.now() + settings.INVITATION_TTL,
        )
        record(
            action="invitation.created",
            actor=Actor.system("bootstrap"),
            target=invitation,
            changes={"email": invitation.email, "role": StaffRole.DCP_ADMIN},
        )
        self.stdout.write(f"first DCP admin invitation for {email} (tenant {tenant.slug}):")
        self.stdout.write(build_url(settings.BASE_DOMAIN, f"/invitations/{token}/"))
