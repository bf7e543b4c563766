"""Evidence packs: request, build (called by the task), signed download links, retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services import Actor, record
from dcp.db import current_schema
from evidence.models import EvidencePack, InterfacePair
from evidence.selectors import Scope
from messaging.models import Message
from tenants.permissions import Action, require

log = logging.getLogger(__name__)

LINK_SALT = "evidence.download"
MAX_PERIOD_DAYS = 3660


class EvidenceError(ValueError):
    pass


class StorageUnavailable(RuntimeError):
    """Saving or opening a pack in object storage failed; the task retries."""


def retention_days() -> int:
    return int(getattr(settings, "EVIDENCE_PACK_RETENTION_DAYS", 2557))


def link_max_age() -> int:
    return int(getattr(settings, "EVIDENCE_LINK_MAX_AGE", 900))


def _clean(values: list[str] | tuple[str, ...] | None) -> list[str]:
    return sorted({v.strip() for v in values or [] if v and v.strip()})


def request_pack(
    *,
    tenant: Any,
    actor: Any,
    period_start: date,
    period_end: date,
    kind: str = EvidencePack.Kind.STANDARD,
    interfaces: list[str] | None = None,
    dip_ids: list[str] | None = None,
    mpans: list[str] | None = None,
) -> EvidencePack:
    """Record a pack request and queue its build (after commit)."""
    require(actor, Action.VIEW_EVIDENCE, tenant)
    if period_end < period_start:
        raise EvidenceError("The period ends before it starts.")
    if (period_end - period_start).days > MAX_PERIOD_DAYS:
        raise EvidenceError("The period is longer than ten years.")
    if kind not in EvidencePack.Kind.values:
        raise EvidenceError(f"Unknown pack kind {kind!r}.")
    from evidence.tasks import build_pack

    with transaction.atomic():
        pack = EvidencePack.objects.create(
            kind=kind,
            period_start=period_start,
            period_end=period_end,
            interfaces=_clean(interfaces),
            dip_ids=_clean(dip_ids),
            mpans=_clean(mpans),
            created_by=getattr(actor, "email", "") or str(actor),
            expires_at=timezone.now() + timedelta(days=retention_days()),
        )
        record(
            action="evidence.pack_requested",
            actor=actor,
            target=pack,
            summary=f"{kind} pack {period_start}–{period_end}",
            changes=Scope.of(pack).as_dict(),
        )
        pack_id = pack.pk
        transaction.on_commit(lambda: build_pack.delay(pack_id))
    return pack


def storage_name(pack: EvidencePack) -> str:
    return f"evidence/{current_schema()}/{pack.public_id}.zip"


def _set(pack_id: int, **fields: Any) -> None:
    EvidencePack.objects.filter(pk=pack_id).update(**fields)


def build(pack_id: int, *, tenant_slug: str, tenant_name: str) -> EvidencePack | None:
    """Build and store one pack. Idempotent: a ready or deleted pack is left alone. Raises
    ``StorageUnavailable`` when saving fails (the task retries)."""
    from evidence.builder import build_to_tempfile, count_messages, sha256_file

    pack = EvidencePack.objects.filter(pk=pack_id).first()
    if pack is None or pack.status in (EvidencePack.Status.READY, EvidencePack.Status.DELETED):
        return pack
    total = count_messages(pack)
    _set(
        pack_id,
        status=EvidencePack.Status.RUNNING,
        started_at=timezone.now(),
        total=total,
        progress=0,
        attempts=pack.attempts + 1,
        error="",
    )
    fh, manifest = build_to_tempfile(
        pack,
        tenant_slug=tenant_slug,
        tenant_name=tenant_name,
        progress=lambda n: _set(pack_id, progress=n),
    )
    with fh:
        digest = sha256_file(fh)
        name = storage_name(pack)
        try:
            if default_storage.exists(name):
                default_storage.delete(name)
            saved = default_storage.save(name, File(fh, name=name))
        except Exception as exc:  # any storage backend error: boto, OSError, …
            raise StorageUnavailable(f"storage unavailable: {exc}"[:500]) from exc
        size = fh.seek(0, 2)
    import hashlib
    import json

    manifest.pop("_stats", None)
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode()
    with transaction.atomic():
        _set(
            pack_id,
            status=EvidencePack.Status.READY,
            storage_name=saved,
            size=size,
            sha256=digest,
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            key_id=manifest["signature"]["key_id"],
            message_count=manifest["counts"]["messages"],
            progress=total,
            finished_at=timezone.now(),
        )
        pack.refresh_from_db()
        record(
            action="evidence.pack_built",
            actor=Actor.system("evidence.build_pack"),
            target=pack,
            summary=f"{pack.message_count} messages, {size} bytes, sha256 {digest[:16]}…",
            changes={"sha256": digest, "size": size, "storage_name": saved},
        )
    return pack


def mark_retrying(pack_id: int, error: str) -> None:
    _set(pack_id, status=EvidencePack.Status.RETRYING, error=error[:500])


def mark_failed(pack_id: int, error: str) -> None:
    with transaction.atomic():
        _set(pack_id, status=EvidencePack.Status.FAILED, error=error[:500])
        pack = EvidencePack.objects.get(pk=pack_id)
        record(
            action="evidence.pack_failed",
            actor=Actor.system("evidence.build_pack"),
            target=pack,
            summary=error[:500],
        )


# --- download links ---------------------------------------------------------------------


def download_token(*, pack: EvidencePack, user: Any) -> str:
    """Issue a download link for ``user`` (audited: who was handed a key to the pack, and for
    how long; each download is audited again)."""
    token = signing.dumps(
        {"p": str(pack.public_id), "s": current_schema(), "u": user.pk}, salt=LINK_SALT
    )
    record(
        action="evidence.link_issued",
        actor=user,
        target=pack,
        summary=f"download link for pack {pack.public_id}",
        changes={"expires_in": link_max_age()},
    )
    return token


@dataclass(frozen=True)
class LinkGrant:
    pack: EvidencePack


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def resolve_token(token: str, *, user: Any, max_age: int | None = None) -> LinkGrant:
    """The pack a download link grants. Links expire after ``max_age`` seconds, work only in
    the schema (tenant) and for the user they were issued to."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=max_age or link_max_age())
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
    if data.get("s") != current_schema() or data.get("u") != getattr(user, "pk", None):
        raise LinkInvalid
    pack = EvidencePack.objects.filter(
        public_id=data["p"], status=EvidencePack.Status.READY
    ).first()
    if pack is None:
        raise LinkInvalid
    return LinkGrant(pack)


def open_pack(*, pack: EvidencePack, actor: Any, request: Any = None) -> Any:
    """Open the stored zip for download; the download is audited."""
    try:
        fh = default_storage.open(pack.storage_name, "rb")
    except Exception as exc:
        raise StorageUnavailable(str(exc)) from exc
    record(
        action="evidence.pack_downloaded",
        actor=actor,
        target=pack,
        request=request,
        summary=f"sha256 {pack.sha256[:16]}…",
    )
    return fh


# --- retention ----------------------------------------------------------------------------


def delete_expired_packs(*, now: Any = None) -> int:
    """Delete stored packs past their retention date; each deletion is audited."""
    now = now or timezone.now()
    count = 0
    due = EvidencePack.objects.filter(expires_at__lte=now).exclude(
        status=EvidencePack.Status.DELETED
    )
    for pack in due.order_by("id").iterator(chunk_size=100):
        if pack.storage_name:
            try:
                default_storage.delete(pack.storage_name)
            except Exception:  # storage down: try again on the next run
                log.warning("evidence pack %s: storage delete failed", pack.public_id)
                continue
        with transaction.atomic():
            EvidencePack.objects.filter(pk=pack.pk).update(
                status=EvidencePack.Status.DELETED, deleted_at=now
            )
            record(
                action="evidence.pack_deleted",
                actor=Actor.system("evidence.expire_packs"),
                target=pack,
                summary=f"retention: expired {pack.expires_at:%Y-%m-%d}",
                changes={"storage_name": pack.storage_name, "sha256": pack.sha256},
            )
        count += 1
    return count


def protect_packed_messages(candidates: QuerySet[Message]) -> QuerySet[Message]:
    """Retention protector: the candidate messages that an unexpired pack covers."""
    live = EvidencePack.objects.filter(expires_at__gt=timezone.now()).exclude(
        status__in=[EvidencePack.Status.DELETED, EvidencePack.Status.FAILED]
    )
    q = Q(pk__in=[])
    for pack in live.only("period_start", "period_end", "interfaces", "dip_ids", "mpans"):
        q |= Scope.of(pack).message_q()
    return candidates.filter(q)


# --- request → response pairs -----------------------------------------------------------


def add_pair(
    *,
    actor: Any,
    request_interface_id: str,
    response_interface_id: str,
    limit_minutes: int,
    description: str = "",
) -> InterfacePair:
    with transaction.atomic():
        pair, _ = InterfacePair.objects.update_or_create(
            request_interface_id=request_interface_id.strip().upper(),
            response_interface_id=response_interface_id.strip().upper(),
            defaults={"limit_minutes": limit_minutes, "description": description},
        )
        record(action="evidence.pair_saved", actor=actor, target=pair, summary=str(pair))
    return pair


def delete_pair(*, pair: InterfacePair, actor: Any) -> None:
    with transaction.atomic():
        record(action="evidence.pair_deleted", actor=actor, target=pair, summary=str(pair))
        pair.delete()
