"""Client API keys: tenant-scoped machine credentials for the client API.

A key reads ``odcp_<prefix>_<secret>``; the prefix finds the row, the SHA-256 of the whole key
is compared in constant time. The clear key is returned once, at creation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.services import record
from dcp.errors import invalid
from messaging.outbound.models import ClientApiKey
from participants.services.common import require_here
from tenants.models import User
from tenants.permissions import Action

PREFIX = "odcp"
ALL_SCOPES = frozenset(ClientApiKey.Scope.values)


@dataclass(frozen=True)
class IssuedClientKey:
    key: ClientApiKey
    secret: str  # shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(*, name: str, scopes: list[str], actor: User) -> IssuedClientKey:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise invalid("Give the key a name (1-100 characters).", code="invalid_name", field="name")
    unknown = set(scopes) - ALL_SCOPES
    if unknown or not scopes:
        raise invalid(
            f"Scopes must be among {sorted(ALL_SCOPES)}.", code="invalid_scopes", field="scopes"
        )
    prefix = secrets.token_hex(6)
    secret = f"{PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ClientApiKey.objects.create(
            name=name,
            prefix=prefix,
            key_hash=_hash(secret),
            scopes=sorted(set(scopes)),
            created_by=actor.email,
        )
        record(action="client_api_key.create", actor=actor, target=key, summary=f"scopes {scopes}")
    return IssuedClientKey(key, secret)


def revoke_key(*, key: ClientApiKey, actor: User) -> ClientApiKey:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    if key.revoked_at is None:
        with transaction.atomic():
            key.revoked_at, key.revoked_by = timezone.now(), actor.email
            key.save(update_fields=["revoked_at", "revoked_by"])
            record(action="client_api_key.revoke", actor=actor, target=key)
    return key


def authenticate(secret: str) -> ClientApiKey | None:
    """The active key matching ``secret``, or None."""
    parts = secret.split("_")
    if len(parts) < 3 or parts[0] != PREFIX:
        return None
    key = ClientApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(secret)):
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ClientApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
