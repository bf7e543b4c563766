"""Writing an evidence pack: a zip streamed to a temporary file member by member (bounded
memory whatever the period), then saved through ``default_storage``.

Members: messages.jsonl (parsed form, raw referenced by SHA-256), raw_bodies.jsonl (the exact
bytes: UTF-8 text when they decode, base64 otherwise), transitions.jsonl, attempts.jsonl,
status_reports.jsonl, status_replies.jsonl, receipts.jsonl, deliveries.jsonl,
exceptions.jsonl, audit.jsonl (a contiguous audit-chain segment), certificates.json,
configuration.json, summary.pdf, certification.json (certification packs), then
manifest.json and manifest.sig (the detached signature)."""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from importlib.metadata import PackageNotFoundError, version
from typing import IO, Any

from django.utils import timezone

from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from audit.services import HASHED_FIELDS
from dcp.db import current_schema
from evidence import keys
from evidence.models import EvidencePack
from evidence.selectors import Scope, scope_messages
from evidence.snapshot import certificates, certification_report, configuration
from evidence.summary import Stats, summary_pdf
from evidence.zipwriter import PackWriter, dumps, json_default
from messaging.inbound.models import EndpointDelivery, InboundReceipt, StatusReply
from messaging.models import MessageException, RawBody, Transition
from messaging.outbound.models import Attempt, StatusReport
from messaging.services import raw_bytes

FORMAT = "opendcp-evidence-pack/1"
CHUNK = 2000
PROGRESS_EVERY = 5000

MESSAGE_FIELDS = (
    "id",
    "public_id",
    "direction",
    "state",
    "state_changed_at",
    "created",
    "environment",
    "spec_version",
    "interface_id",
    "event_code",
    "schema_version",
    "dip_id",
    "counterparty_dip_id",
    "dcp_id",
    "mpan_core",
    "sender_unique_reference",
    "transaction_id",
    "correlation_id",
    "publication_id",
    "raw__sha256",
    "raw_index",
    "common_block",
    "findings",
    "is_duplicate",
    "duplicate_count",
)


def generator_version() -> str:
    try:
        return version("opendcp")
    except PackageNotFoundError:  # pragma: no cover - source checkout without metadata
        return "0.0.0"


def _rows(qs: Any, fields: Iterable[str]) -> Iterator[dict[str, Any]]:
    yield from qs.values(*fields).iterator(chunk_size=CHUNK)


def _message_rows(
    scope: Scope, stats: Stats, progress: Callable[[int], None]
) -> Iterator[dict[str, Any]]:
    qs = scope_messages(scope).order_by("id")
    local_tz = timezone.get_current_timezone()
    for row in qs.values(*MESSAGE_FIELDS).iterator(chunk_size=CHUNK):
        row["raw_sha256"] = row.pop("raw__sha256")
        stats.messages += 1
        stats.by_interface[row["interface_id"]] += 1
        stats.by_state[row["state"]] += 1
        stats.by_day[row["created"].astimezone(local_tz).date().isoformat()] += 1
        if stats.messages % PROGRESS_EVERY == 0:
            progress(stats.messages)
        yield row


def _raw_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    ids = scope_messages(scope).values("raw_id")
    qs = RawBody.objects.filter(pk__in=ids).order_by("id")
    for raw in qs.iterator(chunk_size=200):
        data = raw_bytes(raw)
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(data).decode(), "base64"
        yield {"sha256": raw.sha256, "size": raw.size, "encoding": encoding, "raw": text}


def audit_row(event: AuditEvent) -> dict[str, Any]:
    row = {name: getattr(event, name) for name in HASHED_FIELDS}
    row["occurred_at"] = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    row["hash"] = event.hash
    return row


def _audit_segment(scope: Scope) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The contiguous chain segment covering the period, and the anchors that tie it to the
    rest of the chain: the first row's prev_hash and the head at build time."""
    in_period = AuditEvent.objects.filter(occurred_at__gte=scope.start, occurred_at__lt=scope.end)
    first = in_period.order_by("seq").values_list("seq", "prev_hash").first()
    last = in_period.order_by("-seq").values_list("seq", "hash").first()
    head = AuditChainHead.objects.filter(pk=1).values_list("seq", "hash").first() or (
        0,
        GENESIS_HASH,
    )
    anchor: dict[str, Any] = {"head_seq": head[0], "head_hash": head[1], "count": 0}
    if first is None or last is None:
        return anchor, iter(())
    anchor.update(
        first_seq=first[0],
        prev_hash=first[1],
        last_seq=last[0],
        last_hash=last[1],
        count=last[0] - first[0] + 1,
    )
    rows = AuditEvent.objects.filter(seq__gte=first[0], seq__lte=last[0]).order_by("seq")
    return anchor, (audit_row(e) for e in rows.iterator(chunk_size=CHUNK))


def write_pack(
    pack: EvidencePack,
    fh: IO[bytes],
    *,
    tenant_slug: str,
    tenant_name: str,
    progress: Callable[[int], None],
) -> dict[str, Any]:
    """Write the whole pack into ``fh``; returns the manifest."""
    scope = Scope.of(pack)
    stats = Stats()
    writer = PackWriter(fh)
    msg_ids = scope_messages(scope).values("id")
    stats.counts["messages"] = writer.jsonl("messages.jsonl", _message_rows(scope, stats, progress))
    progress(stats.messages)
    stats.counts["raw_bodies"] = writer.jsonl("raw_bodies.jsonl", _raw_rows(scope))
    stats.counts["transitions"] = writer.jsonl(
        "transitions.jsonl",
        _rows(
            Transition.objects.filter(message_id__in=msg_ids).order_by("message_id", "id"),
            ("message_id", "from_state", "to_state", "at", "actor", "reason", "details"),
        ),
    )
    attempts = Attempt.objects.filter(started_at__gte=scope.start, started_at__lt=scope.end)
    if scope.interfaces:
        attempts = attempts.filter(interface_id__in=scope.interfaces)
    if scope.dip_ids:
        attempts = attempts.filter(dip_id__in=scope.dip_ids)
    stats.counts["attempts"] = writer.jsonl(
        "attempts.jsonl",
        _rows(
            attempts.order_by("id"),
            (
                "id",
                "environment",
                "dip_id",
                "interface_id",
                "url",
                "started_at",
                "finished_at",
                "duration_ms",
                "batch_size",
                "body_sha256",
                "body_size",
                "status_code",
                "outcome",
                "error",
                "certificate_fingerprint",
                "worker",
                "message_ids",
            ),
        ),
    )
    stats.counts["status_reports"] = writer.jsonl(
        "status_reports.jsonl",
        _rows(
            StatusReport.objects.filter(message_id__in=msg_ids).order_by("id"),
            (
                "message_id",
                "transaction_id",
                "sender_unique_reference",
                "code",
                "text",
                "help",
                "sender_id",
                "success",
                "received_at",
                "body",
            ),
        ),
    )
    stats.counts["status_replies"] = writer.jsonl(
        "status_replies.jsonl",
        _rows(
            StatusReply.objects.filter(message_id__in=msg_ids).order_by("id"),
            ("message_id", "dip_id", "code", "body", "state", "attempts", "sent_at", "created"),
        ),
    )
    receipts = InboundReceipt.objects.filter(
        received_at__gte=scope.start, received_at__lt=scope.end
    )
    if scope.interfaces:
        receipts = receipts.filter(interface_id__in=scope.interfaces)
    if scope.dip_ids:
        receipts = receipts.filter(dip_id__in=scope.dip_ids)
    stats.counts["receipts"] = writer.jsonl(
        "receipts.jsonl",
        _rows(
            receipts.order_by("id"),
            (
                "id",
                "interface_id",
                "dip_id",
                "environment",
                "sha256",
                "size",
                "outcome",
                "http_status",
                "verified",
                "verification",
                "message_count",
                "accepted_count",
                "duplicate_count",
                "findings",
                "received_at",
            ),
        ),
    )
    stats.counts["deliveries"] = writer.jsonl(
        "deliveries.jsonl",
        _rows(
            EndpointDelivery.objects.filter(event__message_id__in=msg_ids).order_by("id"),
            (
                "event__message_id",
                "endpoint__name",
                "seq",
                "state",
                "attempts",
                "last_status",
                "last_error",
                "delivered_at",
            ),
        ),
    )
    stats.counts["exceptions"] = writer.jsonl(
        "exceptions.jsonl",
        _rows(
            MessageException.objects.filter(message_id__in=msg_ids).order_by("id"),
            (
                "message_id",
                "category",
                "code",
                "summary",
                "details",
                "status",
                "opened_at",
                "assigned_to",
                "resolved_at",
                "resolved_by",
                "resolution",
            ),
        ),
    )
    anchor, audit_rows = _audit_segment(scope)
    stats.counts["audit_events"] = writer.jsonl("audit.jsonl", audit_rows)
    inventory = certificates()
    stats.counts["certificates"] = len(inventory)
    writer.add("certificates.json", dumps({"certificates": inventory}))
    writer.add("configuration.json", dumps(configuration()))
    if pack.kind == EvidencePack.Kind.CERTIFICATION:
        writer.add("certification.json", dumps(certification_report(scope, tenant_slug)))
    key = keys.evidence_key()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "pack_id": str(pack.public_id),
        "kind": pack.kind,
        "tenant": {"slug": tenant_slug, "name": tenant_name, "schema": current_schema()},
        "parameters": scope.as_dict(),
        "generator": {"name": "opendcp", "version": generator_version()},
        "created_at": timezone.now().astimezone(UTC).isoformat(),
        "empty": stats.messages == 0,
        "note": "No messages in the period." if stats.messages == 0 else "",
        "counts": dict(stats.counts),
        "audit_anchor": anchor,
        "signature": {
            "file": "manifest.sig",
            "algorithm": "RSASSA-PKCS1-v1_5-SHA256",
            "key_id": key.key_id,
            "public_key_url": "/.well-known/opendcp-evidence-key.pem",
        },
    }
    writer.add("summary.pdf", summary_pdf(pack, tenant_name, stats, {**manifest, "files": []}))
    manifest["files"] = writer.files
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True, default=json_default).encode()
    signature, _ = keys.sign(manifest_bytes)
    writer.add_unlisted("manifest.json", manifest_bytes)
    writer.add_unlisted("manifest.sig", signature)
    writer.close()
    manifest["_stats"] = stats
    return manifest


def build_to_tempfile(
    pack: EvidencePack, *, tenant_slug: str, tenant_name: str, progress: Callable[[int], None]
) -> tuple[IO[bytes], dict[str, Any]]:
    fh = tempfile.TemporaryFile(prefix="evidence-")  # noqa: SIM115 - handed to the caller
    manifest = write_pack(
        pack, fh, tenant_slug=tenant_slug, tenant_name=tenant_name, progress=progress
    )
    fh.seek(0)
    return fh, manifest


def sha256_file(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    fh.seek(0)
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def count_messages(pack: EvidencePack) -> int:
    return scope_messages(Scope.of(pack)).count()
