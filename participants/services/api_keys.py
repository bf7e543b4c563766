"""DIP API keys per DIP ID and environment, sealed with dcp.vault and shown once.

Rotation without a gap: (1) regenerate the secondary (the old secondary is retired; sending
still uses the primary), (2) swap (the new key becomes primary; the old primary stays valid as
a *retiring* secondary), (3) retire the retiring key once the DIP portal shows the new one in
use. The key itself comes from the DIP portal ("regenerate and copy"); when none is given we
generate one (the sandbox accepts it)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from dcp import vault
from dcp.errors import invalid
from participants.models import ApiKey, DipId
from participants.services.common import audit, require_here
from tenants.models import User
from tenants.permissions import Action

LIVE = (ApiKey.State.ACTIVE, ApiKey.State.RETIRING)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown to the user once, never stored in clear


def _context(key: ApiKey) -> str:
    return f"participants.ApiKey:{key.pk}"


def _validate_secret(secret: str) -> str:
    secret = (secret or "").strip()
    if not secret:
        return secrets.token_urlsafe(32)
    if not 16 <= len(secret) <= 512 or any(c.isspace() for c in secret):
        raise invalid(
            "An API key is 16-512 characters without spaces.", code="invalid_api_key", field="key"
        )
    return secret


def _issue(*, dip_id: DipId, slot: str, secret: str, actor: User) -> IssuedKey:
    key = ApiKey.objects.create(
        dip_id=dip_id,
        environment=dip_id.environment,
        slot=slot,
        sealed="",
        fingerprint=vault.fingerprint(secret),
        created_by=actor.email,
    )
    key.sealed = vault.seal(secret, context=_context(key))
    key.save(update_fields=["sealed"])
    return IssuedKey(key, secret)


def _live(dip_id: DipId, slot: str) -> ApiKey | None:
    return (
        ApiKey.objects.select_for_update().filter(dip_id=dip_id, slot=slot, state__in=LIVE).first()
    )


def _require_active(dip_id: DipId) -> None:
    if dip_id.status != DipId.Status.ACTIVE:
        raise invalid(f"DIP ID is {dip_id.status}.", code="dip_id_inactive", field="dip_id")


def generate_keys(
    *, dip_id: DipId, actor: User, primary: str = "", secondary: str = ""
) -> list[IssuedKey]:
    """The first primary and secondary keys of a DIP ID."""
    require_here(actor, Action.MANAGE_CONFIGURATION)
    _require_active(dip_id)
    primary, secondary = _validate_secret(primary), _validate_secret(secondary)
    if primary == secondary:
        raise invalid("Primary and secondary keys must differ.", code="same_key", field="key")
    with transaction.atomic():
        if ApiKey.objects.filter(dip_id=dip_id, state__in=LIVE).exists():
            raise invalid(
                "This DIP ID already has keys; rotate them instead.", code="already_issued"
            )
        issued = [
            _issue(dip_id=dip_id, slot=ApiKey.Slot.PRIMARY, secret=primary, actor=actor),
            _issue(dip_id=dip_id, slot=ApiKey.Slot.SECONDARY, secret=secondary, actor=actor),
        ]
        audit(
            action="api_key.generated",
            actor=actor,
            target=dip_id,
            changes={"fingerprints": [i.key.fingerprint for i in issued]},
        )
    return issued


def regenerate_secondary(*, dip_id: DipId, actor: User, secret: str = "") -> IssuedKey:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    _require_active(dip_id)
    secret = _validate_secret(secret)
    with transaction.atomic():
        old = _live(dip_id, ApiKey.Slot.SECONDARY)
        if old is not None:
            _retire(old, actor)
        issued = _issue(dip_id=dip_id, slot=ApiKey.Slot.SECONDARY, secret=secret, actor=actor)
        audit(
            action="api_key.secondary_regenerated",
            actor=actor,
            target=dip_id,
            changes={"old": old.fingerprint if old else None, "new": issued.key.fingerprint},
        )
    return issued


def swap_keys(*, dip_id: DipId, actor: User) -> ApiKey:
    """The active secondary becomes primary; the old primary stays valid as retiring."""
    require_here(actor, Action.MANAGE_CONFIGURATION)
    with transaction.atomic():
        primary = _live(dip_id, ApiKey.Slot.PRIMARY)
        secondary = _live(dip_id, ApiKey.Slot.SECONDARY)
        if secondary is None or secondary.state != ApiKey.State.ACTIVE:
            raise invalid(
                "There is no fresh secondary key to swap in: regenerate the secondary first.",
                code="no_secondary",
            )
        # Three steps keep the "one live key per slot" constraint true at every statement.
        if primary is not None:
            primary.state = ApiKey.State.RETIRED
            primary.save(update_fields=["state"])
        secondary.slot = ApiKey.Slot.PRIMARY
        secondary.save(update_fields=["slot"])
        if primary is not None:
            primary.slot, primary.state = ApiKey.Slot.SECONDARY, ApiKey.State.RETIRING
            primary.save(update_fields=["slot", "state"])
        audit(
            action="api_key.swapped",
            actor=actor,
            target=dip_id,
            changes={
                "primary": secondary.fingerprint,
                "retiring": primary.fingerprint if primary else None,
            },
        )
    return secondary


def _retire(key: ApiKey, actor: User | None) -> None:
    key.state, key.retired_at = ApiKey.State.RETIRED, timezone.now()
    key.retired_by = actor.email if actor else "system"
    key.save(update_fields=["state", "retired_at", "retired_by"])


def retire_key(*, key: ApiKey, actor: User) -> ApiKey:
    """Retire a secondary (usually the retiring old primary). The primary is never retired
    directly: swap first, so sending never stops."""
    require_here(actor, Action.MANAGE_CONFIGURATION)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.state == ApiKey.State.RETIRED:
            raise invalid("This key is already retired.", code="already_retired")
        if key.slot == ApiKey.Slot.PRIMARY:
            raise invalid(
                "The primary key cannot be retired: swap in the secondary first.",
                code="primary_in_use",
            )
        _retire(key, actor)
        audit(action="api_key.retired", actor=actor, target=key, changes={"fp": key.fingerprint})
    return key


def retire_all_keys(*, dip_id: DipId, actor: User | None) -> int:
    """Offboarding / transfer: every live key of a DIP ID (caller checks permission)."""
    count = 0
    for key in ApiKey.objects.select_for_update().filter(dip_id=dip_id, state__in=LIVE):
        _retire(key, actor)
        count += 1
    return count


def key_for_sending(*, dip_id: DipId) -> str | None:
    """The primary key in clear, for the Send API client; records its last use."""
    key = ApiKey.objects.filter(
        dip_id=dip_id, slot=ApiKey.Slot.PRIMARY, state=ApiKey.State.ACTIVE
    ).first()
    if key is None:
        return None
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return vault.unseal(key.sealed, context=_context(key)).decode()
