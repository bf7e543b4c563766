"""Demo data for `make run`: the DCP organisation's staff and two client tenants with a user
per role. Idempotent: running it again changes nothing that exists."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.db import transaction

from participants.demo import load_demo_participants
from tenants import services
from tenants.models import Membership, Tenant, User
from tenants.roles import MFA_REQUIRED_CLIENT_ROLES, ClientRole, StaffRole

DEMO_PASSWORD = "opendcp-demo-2026"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    staff_role: str = ""
    tenant_slug: str = ""
    role: str = ""

    @property
    def needs_mfa(self) -> bool:
        return bool(self.staff_role) or self.role in MFA_REQUIRED_CLIENT_ROLES


DEMO_TENANTS = [
    ("acme", "Acme Energy", "Supplier"),
    ("brightwatt", "Brightwatt Data", "Smart Data Service"),
]

DEMO_USERS = [
    DemoUser("admin@opendcp.localhost", "Dana Admin", staff_role=StaffRole.DCP_ADMIN),
    DemoUser("operator@opendcp.localhost", "Owen Operator", staff_role=StaffRole.DCP_OPERATOR),
    DemoUser("admin@acme.example", "Ada Acme", tenant_slug="acme", role=ClientRole.CLIENT_ADMIN),
    DemoUser(
        "operator@acme.example", "Oscar Acme", tenant_slug="acme", role=ClientRole.CLIENT_OPERATOR
    ),
    DemoUser("viewer@acme.example", "Vera Acme", tenant_slug="acme", role=ClientRole.CLIENT_VIEWER),
    DemoUser("auditor@acme.example", "Aldo Auditor", tenant_slug="acme", role=ClientRole.AUDITOR),
    DemoUser(
        "admin@brightwatt.example",
        "Bea Brightwatt",
        tenant_slug="brightwatt",
        role=ClientRole.CLIENT_ADMIN,
    ),
    DemoUser(
        "operator@brightwatt.example",
        "Ben Brightwatt",
        tenant_slug="brightwatt",
        role=ClientRole.CLIENT_OPERATOR,
    ),
    DemoUser(
        "viewer@brightwatt.example",
        "Bo Brightwatt",
        tenant_slug="brightwatt",
        role=ClientRole.CLIENT_VIEWER,
    ),
]


def demo_totp_secret(email: str) -> str:
    """A stable TOTP secret per demo user, so the printed secret stays valid across runs."""
    digest = hashlib.sha256(f"opendcp-demo-totp|{email}|{settings.SECRET_KEY}".encode()).digest()
    return base64.b32encode(digest[:20]).decode()


def _user(spec: DemoUser) -> User:
    user = User.objects.filter(email=spec.email).first()
    if user is None:
        user = User.objects.create_user(
            email=spec.email,
            password=DEMO_PASSWORD,
            full_name=spec.name,
            staff_role=spec.staff_role,
            is_staff=spec.staff_role == StaffRole.DCP_ADMIN,
        )
    if (
        spec.needs_mfa
        and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    ):
        TOTP.activate(user, demo_totp_secret(spec.email))
    return user


@transaction.atomic
def load_demo() -> list[DemoUser]:
    services.ensure_public_tenant()
    staff = [_user(u) for u in DEMO_USERS if u.staff_role]
    dcp_admin = staff[0]
    for slug, name, role_summary in DEMO_TENANTS:
        if not Tenant.objects.filter(slug=slug).exists():
            services.create_tenant(
                name=name, slug=slug, actor=dcp_admin, market_role_summary=role_summary
            )
    for spec in DEMO_USERS:
        if spec.tenant_slug:
            user = _user(spec)
            tenant = Tenant.objects.get(slug=spec.tenant_slug)
            Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": spec.role})
    load_demo_participants()
    return DEMO_USERS
