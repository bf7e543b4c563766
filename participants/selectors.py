"""Reads for onboarding pages, the API and other apps."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from participants.models import (
    ApiKey,
    CertificationItem,
    Channel,
    ChecklistItem,
    DipId,
    InterfaceSelection,
    Nomination,
    OrganisationProfile,
)
from participants.roles import EXTENDED_MDR_INTERFACES, OPTIONAL_MDR_INTERFACES


def profile() -> OrganisationProfile | None:
    return OrganisationProfile.objects.first()


def checklist(environment: str) -> list[ChecklistItem]:
    """All eight steps, unsaved defaults for the ones nobody touched yet."""
    saved = {i.step: i for i in ChecklistItem.objects.filter(environment=environment)}
    return [
        saved.get(step) or ChecklistItem(environment=environment, step=step)
        for step in ChecklistItem.Step.values
    ]


@dataclass(frozen=True)
class ChecklistSummary:
    environment: str
    done: int
    blocked: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done == self.total


def checklist_summary(environment: str) -> ChecklistSummary:
    items = checklist(environment)
    return ChecklistSummary(
        environment,
        sum(i.status == ChecklistItem.Status.DONE for i in items),
        sum(i.status == ChecklistItem.Status.BLOCKED for i in items),
        len(items),
    )


def dip_ids() -> QuerySet[DipId]:
    return DipId.objects.select_related("mpid_role")


def active_nomination(dip_id: DipId) -> Nomination | None:
    return dip_id.nominations.filter(status=Nomination.Status.ACTIVE).first()


def live_keys(dip_id: DipId) -> QuerySet[ApiKey]:
    return dip_id.api_keys.exclude(state=ApiKey.State.RETIRED).order_by("slot")


def channels() -> QuerySet[Channel]:
    return Channel.objects.select_related("dip_id", "dip_id__mpid_role")


def staff_whitelisted(dip_id: DipId) -> bool:
    """The client ticked "whitelist DCP's domains" on the active nomination of this DIP ID."""
    nomination = active_nomination(dip_id)
    return bool(nomination and nomination.whitelist_domains)


def extended_selections(dip_id: DipId) -> list[InterfaceSelection]:
    return list(
        InterfaceSelection.objects.filter(
            dip_id=dip_id, interface_id__in=(*OPTIONAL_MDR_INTERFACES, *EXTENDED_MDR_INTERFACES)
        )
    )


def certification_gaps(environment: str = "UIT") -> list[str]:
    """Why the ``environment`` configuration is not certified yet (empty list: certified)."""
    gaps = []
    summary = checklist_summary(environment)
    if not summary.complete:
        gaps.append(f"{environment} onboarding checklist: {summary.done}/{summary.total} done")
    active = list(dip_ids().filter(environment=environment, status=DipId.Status.ACTIVE))
    if not active:
        gaps.append(f"no active {environment} DIP ID")
    for dip in active:
        if not any(s.enabled for s in extended_selections(dip)):
            continue
        items = list(CertificationItem.objects.filter(dip_id=dip))
        if not items:
            gaps.append(f"{dip.value}: extended MDR/SDS certification has no evidence")
        for item in items:
            if item.status != CertificationItem.Status.PASSED:
                gaps.append(f"{dip.value}: {item.get_kind_display()} {item.interface_id} open")
    return gaps
