"""Organisation profile and the eight DIP onboarding steps per environment."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from dcp.errors import invalid
from dcpregistry.environments import validate_environment
from participants.models import ChecklistItem, OrganisationProfile
from participants.services.common import audit, require_here
from tenants.models import User
from tenants.permissions import Action

PROFILE_FIELDS = (
    "company_name",
    "company_number",
    "registered_address",
    "contact_name",
    "contact_email",
    "contact_phone",
    "domains",
)


def update_profile(*, actor: User, **fields: str) -> OrganisationProfile:
    tenant = require_here(actor, Action.MANAGE_CONFIGURATION)
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise invalid(f"Unknown fields: {', '.join(sorted(unknown))}.", code="unknown_field")
    if "company_name" in fields and not fields["company_name"].strip():
        raise invalid("A company name is required.", code="required", field="company_name")
    number = fields.get("company_number", "").strip()
    if number and not (number.isalnum() and 8 <= len(number) <= 10):
        raise invalid(
            "A company number is 8-10 letters/digits.", code="invalid", field="company_number"
        )
    with transaction.atomic():
        profile = OrganisationProfile.objects.select_for_update().first()
        if profile is None:
            profile = OrganisationProfile(company_name=tenant.name)
        before = {f: getattr(profile, f) for f in PROFILE_FIELDS}
        for name, value in fields.items():
            setattr(profile, name, value.strip() if isinstance(value, str) else value)
        profile.save()
        changes = {
            f: [before[f], getattr(profile, f)] for f in fields if before[f] != getattr(profile, f)
        }
        audit(action="profile.updated", actor=actor, target=profile, changes=changes)
    return profile


def update_checklist_item(
    *,
    environment: str,
    step: int,
    actor: User,
    status: str,
    owner: str = "",
    due_date: dt.date | None = None,
    blockers: str = "",
) -> ChecklistItem:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    validate_environment(environment)
    if step not in ChecklistItem.Step.values:
        raise invalid(f"Unknown onboarding step {step}.", code="unknown_step", field="step")
    if status not in ChecklistItem.Status.values:
        raise invalid(f"Unknown status {status!r}.", code="invalid_status", field="status")
    if status == ChecklistItem.Status.BLOCKED and not blockers.strip():
        raise invalid("Say what blocks this step.", code="required", field="blockers")
    with transaction.atomic():
        item, _ = ChecklistItem.objects.select_for_update().get_or_create(
            environment=environment, step=step
        )
        before = item.status
        item.status, item.owner, item.due_date = status, owner.strip(), due_date
        item.blockers = blockers.strip()
        item.updated_by = actor.email
        item.completed_at = timezone.now() if status == ChecklistItem.Status.DONE else None
        item.save()
        audit(
            action="checklist.updated",
            actor=actor,
            target=item,
            changes={"status": [before, status], "owner": item.owner, "due": str(due_date or "")},
        )
    return item
