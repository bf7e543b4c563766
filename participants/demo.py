"""Demo onboarding data for `make run`, aligned with the DIP sandbox (sandbox/registry.demo.yaml):
Acme Energy has finished UIT onboarding (SUP DIP ID 2309010001 nominated to our DCP ID
3009012345, keys, channels, a UIT signing certificate from its local CA, checklist done);
Brightwatt Data is mid-way (SDS DIP ID 1409010001 approved, checklist blocked at domain
verification, not yet nominated, so no certificate yet). Idempotent.

The sandbox trusts the tenants' local CAs once `manage.py sync_trust_to_sandbox` has run."""

from __future__ import annotations

from django.db import transaction
from django_tenants.utils import tenant_context

from certificates.demo import ensure_signing_certificate
from dcpregistry import services as registry
from dcpregistry.models import DcpId, DcpStatus
from participants.models import ApiKey, Channel, DipId, MpidRole, Nomination
from participants.services import api_keys, channels, checklist, dip_ids, nominations
from tenants.models import Tenant, User

DCP_IDS = {"UIT": ["3009012345", "3009012346", "3009012347"], "PRD": ["3009022345"]}


def _dcp_ready(staff: User) -> None:
    for env, values in DCP_IDS.items():
        if not DcpStatus.objects.filter(environment=env).exists():
            registry.request_dcp_status(environment=env, actor=staff)
            registry.decide_dcp_status(environment=env, approve=True, actor=staff)
        for value in values:
            DcpId.objects.get_or_create(
                value=value,
                defaults={"environment": env, "created_by": staff.email, "note": "demo"},
            )


def _dip(mpid: str, role: str, value: str, actor: User, staff: User) -> DipId:
    combo = MpidRole.objects.filter(mpid=mpid, role_code=role).first()
    combo = combo or dip_ids.add_mpid_role(mpid=mpid, role_code=role, actor=actor)
    dip = DipId.objects.filter(mpid_role=combo, environment="UIT").first()
    dip = dip or dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=actor, value=value)
    if dip.status == DipId.Status.REQUESTED:
        dip = dip_ids.approve_dip_id(dip_id=dip, actor=staff, value=value)
    return dip


def _acme(admin: User, staff: User) -> None:
    checklist.update_profile(
        actor=admin,
        company_name="Acme Energy Ltd",
        company_number="09876543",
        contact_email="admin@acme.example",
        domains="acme.example",
    )
    dip = _dip("ACME", "SUP", "2309010001", admin, staff)
    if not Nomination.objects.filter(dip_id=dip, status=Nomination.Status.ACTIVE).exists():
        nominations.nominate_dcp(
            dip_id=dip, dcp_id="3009012345", whitelist_domains=True, actor=admin
        )
    if not ApiKey.objects.filter(dip_id=dip).exists():
        api_keys.generate_keys(
            dip_id=dip,
            actor=admin,
            primary="demo-dcp-primary-key",
            secondary="demo-dcp-secondary-key",
        )
    # Signs what Acme sends (and its L4 status replies); issued once, while none is valid.
    ensure_signing_certificate(
        dip_id=dip.value, environment="UIT", common_name="dip-signing.acme.example", actor=admin
    )
    for interface_id in ("IF-002", "IF-014", "STATUS"):
        if not Channel.objects.filter(dip_id=dip, interface_id=interface_id).exists():
            channels.configure_channel(dip_id=dip, interface_id=interface_id, actor=admin)
    for step in range(1, 9):
        checklist.update_checklist_item(
            environment="UIT", step=step, status="done", owner="admin@acme.example", actor=admin
        )


def _brightwatt(admin: User, staff: User) -> None:
    checklist.update_profile(
        actor=admin, company_name="Brightwatt Data Ltd", company_number="11223344"
    )
    _dip("BRWT", "SDS", "1409010001", admin, staff)
    for step in range(1, 5):
        checklist.update_checklist_item(environment="UIT", step=step, status="done", actor=admin)
    checklist.update_checklist_item(
        environment="UIT",
        step=5,
        status="blocked",
        owner="admin@brightwatt.example",
        blockers="GlobalSign domain vetting pending",
        actor=admin,
    )
    checklist.update_checklist_item(environment="UIT", step=7, status="in_progress", actor=admin)


@transaction.atomic
def load_demo_participants() -> None:
    staff = User.objects.filter(staff_role="dcp_admin").order_by("pk").first()
    if staff is None:
        return
    _dcp_ready(staff)
    for slug, loader in (("acme", _acme), ("brightwatt", _brightwatt)):
        tenant = Tenant.objects.filter(slug=slug).first()
        admin = User.objects.filter(
            memberships__tenant=tenant, memberships__role="client_admin"
        ).first()
        if tenant is None or admin is None:
            continue
        with tenant_context(tenant):
            loader(admin, staff)
