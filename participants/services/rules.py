"""The one rule set deciding who may send what as whom: "may DCP X send interface Y for DIP
ID Z in environment E". The outbound pipeline calls ``may_send`` before it queues anything;
tests call it too. Runs in the client tenant's schema."""

from __future__ import annotations

from dataclasses import dataclass

from dcpregistry.models import DcpId, DcpIdAssignment
from dip.catalogue import DEFAULT_SPEC_VERSION, load_catalogue
from dip.identifiers import check_environment
from participants.models import ApiKey, DipId, InterfaceSelection, Nomination
from participants.roles import EXTENDED_MDR_INTERFACES, OPTIONAL_MDR_INTERFACES
from participants.services.common import current_tenant


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    code: str

    def __bool__(self) -> bool:
        return self.allowed


def _no(code: str, reason: str) -> Decision:
    return Decision(False, reason, code)


def may_send(
    *,
    dcp_id: str,
    interface_id: str,
    dip_id: str,
    environment: str,
    spec_version: str = DEFAULT_SPEC_VERSION,
) -> Decision:
    if check_environment(environment) is not None:
        return _no("invalid_environment", f"Unknown environment {environment!r}.")
    dip = (
        DipId.objects.select_related("mpid_role")
        .filter(value=dip_id, environment=environment)
        .order_by("status")  # "active" sorts before the others
        .first()
    )
    if dip is None:
        return _no("unknown_dip_id", f"DIP ID {dip_id} is not ours in {environment}.")
    if dip.status != DipId.Status.ACTIVE:
        return _no("dip_id_inactive", f"DIP ID {dip_id} is {dip.status}.")
    nominated = Nomination.objects.filter(
        dip_id=dip, dcp_id=dcp_id, environment=environment, status=Nomination.Status.ACTIVE
    ).first()
    if nominated is None:
        return _no(
            "not_nominated", f"DCP ID {dcp_id} is not nominated for {dip_id} in {environment}."
        )
    if not DcpId.objects.filter(
        value=dcp_id, environment=environment, status=DcpId.Status.ACTIVE
    ).exists():
        return _no("dcp_id_inactive", f"DCP ID {dcp_id} is not active in {environment}.")
    if not DcpIdAssignment.objects.filter(
        dcp_id__value=dcp_id, tenant=current_tenant(), nomination_id=nominated.pk, active=True
    ).exists():
        return _no("not_assigned", f"DCP ID {dcp_id} is not assigned to {dip_id}.")
    interface = load_catalogue(spec_version).get(interface_id)
    if interface is None:
        return _no("unknown_interface", f"Unknown interface {interface_id!r}.")
    role = dip.mpid_role.role_code
    if role not in interface.sender_roles:
        return _no(
            "role_not_sender",
            f"{interface_id} is sent by {', '.join(interface.sender_roles)}, not {role}.",
        )
    if (
        role in ("MDR", "SDS")
        and interface_id
        in (
            *EXTENDED_MDR_INTERFACES,
            *OPTIONAL_MDR_INTERFACES,
        )
        and not InterfaceSelection.objects.filter(
            dip_id=dip, interface_id=interface_id, enabled=True
        ).exists()
    ):
        return _no(
            "interface_not_selected",
            f"{interface_id} is not enabled in the extended MDR/SDS set-up of {dip_id}.",
        )
    if not ApiKey.objects.filter(
        dip_id=dip, slot=ApiKey.Slot.PRIMARY, state=ApiKey.State.ACTIVE
    ).exists():
        return _no("no_api_key", f"DIP ID {dip_id} has no active primary API key.")
    return Decision(True, f"{dcp_id} may send {interface_id} for {dip_id} in {environment}.", "ok")
