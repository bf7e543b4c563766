"""Extended MDR/SDS set-up (seed 002 §4-6): SDS-MDR pairings, optional and extended interface
selections, and the certification checklist."""

from __future__ import annotations

from django.db import transaction

from dcp.errors import invalid
from dip.identifiers import check_dip_id, check_mpid
from participants.models import CertificationItem, DipId, InterfaceSelection, SdsMdrPairing
from participants.roles import EXTENDED_MDR_INTERFACES, OPTIONAL_MDR_INTERFACES
from participants.services.common import audit, require_here
from tenants.models import Tenant, User
from tenants.permissions import Action

EXTENDED_ROLES = ("MDR", "SDS")


def _require_extended_role(dip_id: DipId) -> None:
    if dip_id.mpid_role.role_code not in EXTENDED_ROLES:
        raise invalid(
            "Extended MDR/SDS applies to MDR and SDS DIP IDs only.",
            code="not_mdr_or_sds",
            field="dip_id",
        )


def pair(
    *, dip_id: DipId, partner_name: str, partner_mpid: str, partner_dip_id: str, actor: User
) -> SdsMdrPairing:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    _require_extended_role(dip_id)
    if check_mpid(partner_mpid) is not None:
        raise invalid(
            "Partner MPID must be 4 upper-case letters.", code="invalid_mpid", field="partner_mpid"
        )
    if check_dip_id(partner_dip_id) is not None:
        raise invalid(
            "Partner DIP ID must be 10 letters/digits.",
            code="invalid_dip_id",
            field="partner_dip_id",
        )
    if not partner_name.strip():
        raise invalid("Name the partner.", code="required", field="partner_name")
    if SdsMdrPairing.objects.filter(dip_id=dip_id, partner_dip_id=partner_dip_id).exists():
        raise invalid("This pairing exists.", code="duplicate", field="partner_dip_id")
    with transaction.atomic():
        pairing = SdsMdrPairing.objects.create(
            dip_id=dip_id,
            partner_name=partner_name.strip(),
            partner_mpid=partner_mpid,
            partner_dip_id=partner_dip_id,
            created_by=actor.email,
        )
        audit(action="extended.paired", actor=actor, target=pairing)
    return pairing


def select_interface(
    *, dip_id: DipId, interface_id: str, enabled: bool, actor: User
) -> InterfaceSelection:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    _require_extended_role(dip_id)
    if interface_id not in (*OPTIONAL_MDR_INTERFACES, *EXTENDED_MDR_INTERFACES):
        raise invalid(
            f"{interface_id} is neither optional (IF-006/008/024/026) nor extended (IF-061-065).",
            code="not_selectable",
            field="interface_id",
        )
    with transaction.atomic():
        selection, _ = InterfaceSelection.objects.update_or_create(
            dip_id=dip_id,
            interface_id=interface_id,
            defaults={"enabled": enabled, "updated_by": actor.email},
        )
        audit(
            action="extended.interface_selected",
            actor=actor,
            target=selection,
            changes={"interface_id": interface_id, "enabled": enabled},
        )
    return selection


def record_certification(
    *,
    dip_id: DipId,
    kind: str,
    actor: User,
    interface_id: str = "",
    status: str = CertificationItem.Status.OPEN,
    evidence: str = "",
    reused_from: str = "",
) -> CertificationItem:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    _require_extended_role(dip_id)
    if kind not in CertificationItem.Kind.values:
        raise invalid(f"Unknown certification kind {kind!r}.", code="invalid", field="kind")
    if status not in CertificationItem.Status.values:
        raise invalid(f"Unknown status {status!r}.", code="invalid", field="status")
    reused_ok = Tenant.objects.filter(slug=reused_from, kind=Tenant.Kind.CLIENT).exists()
    if kind == CertificationItem.Kind.EVIDENCE_REUSED and not reused_ok:
        raise invalid(
            "Name the client on this platform whose certification evidence is reused.",
            code="unknown_tenant",
            field="reused_from",
        )
    if status == CertificationItem.Status.PASSED and not evidence.strip():
        raise invalid("Describe or link the evidence.", code="required", field="evidence")
    with transaction.atomic():
        item, _ = CertificationItem.objects.update_or_create(
            dip_id=dip_id,
            kind=kind,
            interface_id=interface_id,
            defaults={
                "status": status,
                "evidence": evidence.strip(),
                "reused_from": reused_from,
                "updated_by": actor.email,
            },
        )
        audit(
            action="extended.certification",
            actor=actor,
            target=item,
            changes={"kind": kind, "interface_id": interface_id, "status": status},
        )
    return item
