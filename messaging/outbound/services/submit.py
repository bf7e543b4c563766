"""Client submissions: validate (levels 1-3 with ``dip``), then write the messages, their raw
bytes and outbox entries in one transaction, and nudge the sender after commit.

Each message is stored as its own serialised bytes (a one-element DIP array, spec key order,
ASCII-only). A DIP batch is the concatenation of its items' bytes, so what is signed and sent is
always reproducible from the raw record."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.utils import timezone

from dip.catalogue import DEFAULT_SPEC_VERSION
from dip.codes import Side
from dip.envelope import serialise_message
from dip.errors import Finding, Level, Severity
from dip.validation import ValidationContext, validate_batch
from messaging import services as core
from messaging.models import Message, RawBody
from messaging.outbound.conf import outbound_settings
from messaging.outbound.models import OutboxEntry, Submission
from messaging.states import Direction, State
from participants.models import Nomination
from participants.services.rules import may_send

MAX_MESSAGES = 1000  # per request: bounds one transaction


class SubmissionRefused(Exception):
    """The request is refused; nothing was stored. ``status`` is the HTTP status to answer."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


@dataclass(frozen=True)
class SubmitResult:
    submission: Submission
    body: dict[str, Any]
    replayed: bool  # an earlier identical request with the same Idempotency-Key


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": str(f.severity.value if hasattr(f.severity, "value") else f.severity),
        "level": int(f.level),
        "path": f.path,
        "message": f.message,
        "index": f.index,
    }


def request_hash(*, dip_id: str, interface_id: str, environment: str, items: Any) -> str:
    canonical = orjson.dumps(
        {"dip_id": dip_id, "interface_id": interface_id, "environment": environment, "m": items},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def _s1(item: Any) -> dict[str, Any]:
    try:
        s1 = item["payload"]["CommonBlock"]["S1"]
    except (KeyError, TypeError):
        return {}
    return s1 if isinstance(s1, dict) else {}


def _replay(existing: Submission, digest: str) -> SubmitResult:
    if existing.request_hash != digest:
        raise SubmissionRefused(
            409,
            "idempotency_conflict",
            "This Idempotency-Key was used with a different request body.",
            {"submission_id": existing.pk},
        )
    return SubmitResult(existing, existing.response, replayed=True)


def submit(
    *,
    dip_id: str,
    interface_id: str,
    items: Sequence[Any],
    principal: str,
    environment: str = "",
    idempotency_key: str = "",
    spec_version: str = DEFAULT_SPEC_VERSION,
) -> SubmitResult:
    """Accept one message or a batch for ``interface_id`` as the tenant's ``dip_id``."""
    items = list(items)
    if not items or len(items) > MAX_MESSAGES:
        raise SubmissionRefused(
            400, "invalid", f"Send between 1 and {MAX_MESSAGES} messages per request."
        )
    environment = environment or str(_s1(items[0]).get("environmentTag") or "")
    digest = request_hash(
        dip_id=dip_id, interface_id=interface_id, environment=environment, items=items
    )
    if idempotency_key:
        existing = Submission.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, digest)

    dcp_id = (
        Nomination.objects.filter(
            dip_id__value=dip_id, environment=environment, status=Nomination.Status.ACTIVE
        )
        .values_list("dcp_id", flat=True)
        .first()
    ) or ""
    decision = may_send(
        dcp_id=dcp_id, interface_id=interface_id, dip_id=dip_id, environment=environment
    )
    if not decision.allowed:
        raise SubmissionRefused(422, decision.code, decision.reason)

    items = [_with_dcp(item, dcp_id) for item in items]
    surs = {str(_s1(i).get("senderUniqueReference")) for i in items}
    taken = set(
        Message.objects.filter(
            direction=Direction.OUTBOUND,
            environment=environment,
            sender_unique_reference__in=surs,
        ).values_list("sender_unique_reference", flat=True)
    )
    now = timezone.now()
    ctx = ValidationContext(
        side=Side.MSG,
        spec_version=spec_version,
        max_level=Level.CONTEXT,
        environment=environment,
        channel_interface_id=interface_id,
        dcp_dip_id=dcp_id,
        now=now,
        is_nominated=lambda sender, dcp: sender == dip_id and dcp == dcp_id,
        is_duplicate_sur=lambda _sender, sur: sur in taken,
    )
    report = validate_batch(orjson.dumps(items), ctx)
    findings = list(report.findings)
    for r in report.results:
        if r.ok and r.message.sender_dip_id != dip_id:
            findings.append(
                Finding(
                    "MSG1009",
                    Severity.ERROR,
                    f"$[{r.index}].payload.CommonBlock.S1.senderDIPID",
                    f"senderDIPID {r.message.sender_dip_id} is not {dip_id}",
                    Level.CONTEXT,
                    r.index,
                )
            )
    if any(f.is_error for f in findings):
        raise SubmissionRefused(
            400,
            "invalid_message",
            "The message(s) failed validation; nothing was queued.",
            {"findings": [finding_dict(f) for f in findings]},
        )
    raws = [serialise_message(m.item) for m in report.batch.messages]
    try:
        return _store(
            report=report,
            raws=raws,
            findings=findings,
            dip_id=dip_id,
            dcp_id=dcp_id,
            interface_id=interface_id,
            environment=environment,
            spec_version=spec_version,
            principal=principal,
            idempotency_key=idempotency_key,
            digest=digest,
            now=now,
        )
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key (or SUR) committed first.
        if idempotency_key:
            existing = Submission.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replay(existing, digest)
        raise SubmissionRefused(
            400, "duplicate_sur", "A senderUniqueReference in this request was already used."
        ) from None


def _with_dcp(item: Any, dcp_id: str) -> Any:
    """The DCP fills S1.DIPConnectionProviderID with its own DIP ID when the client left it
    null (PROTOCOL.md §3.8); a different value is left for validation to refuse."""
    s1 = _s1(item)
    if not s1 or "DIPConnectionProviderID" not in s1 or s1["DIPConnectionProviderID"] is not None:
        return item
    common = item["payload"]["CommonBlock"]
    return {
        **item,
        "payload": {
            **item["payload"],
            "CommonBlock": {**common, "S1": {**s1, "DIPConnectionProviderID": dcp_id}},
        },
    }


def store_raws(datas: list[bytes]) -> list[RawBody]:
    """``core.store_raw`` for many bodies in three queries (identical bytes share a row)."""
    digests = [core.sha256_hex(d) for d in datas]
    RawBody.objects.bulk_create(
        [RawBody(sha256=h, size=len(d), content=d) for h, d in zip(digests, datas, strict=True)],
        ignore_conflicts=True,
    )
    rows = {r.sha256: r for r in RawBody.objects.filter(sha256__in=digests).only("id", "sha256")}
    return [rows[h] for h in digests]


def _store(
    *,
    report: Any,
    raws: list[bytes],
    findings: list[Finding],
    dip_id: str,
    dcp_id: str,
    interface_id: str,
    environment: str,
    spec_version: str,
    principal: str,
    idempotency_key: str,
    digest: str,
    now: datetime,
) -> SubmitResult:
    conf = outbound_settings()
    with transaction.atomic():
        bodies = store_raws(raws)
        new = [
            core.NewMessage(
                direction=Direction.OUTBOUND,
                environment=environment,
                spec_version=spec_version,
                interface_id=interface_id,
                event_code=m.event_code or "",
                schema_version=m.schema_version or "",
                dip_id=dip_id,
                dcp_id=dcp_id,
                mpan_core=m.mpan_core or "",
                sender_unique_reference=m.sender_unique_reference or "",
                correlation_id=m.correlation_id or "",
                raw=raw,
                common_block=m.common_dict,
                findings=[finding_dict(f) for f in findings if f.index == m.index],
            )
            for m, raw in zip(report.batch.messages, bodies, strict=True)
        ]
        messages = core.create_messages(new, actor=principal, reason="submitted by the client")
        core.transition_many(messages, State.VALIDATED, actor="outbound", reason="levels 1-3 ok")
        core.transition_many(messages, State.QUEUED, actor="outbound", reason="in the outbox")
        submission = Submission.objects.create(
            idempotency_key=idempotency_key,
            request_hash=digest,
            principal=principal,
            dip_id=dip_id,
            interface_id=interface_id,
            environment=environment,
            message_ids=[m.pk for m in messages],
        )
        OutboxEntry.objects.bulk_create(
            OutboxEntry(
                message=m,
                submission=submission,
                environment=environment,
                dip_id=dip_id,
                interface_id=interface_id,
                mpan_core=m.mpan_core,
                ordered=conf.is_ordered(interface_id, m.mpan_core),
                due_at=now,
                queued_at=now,
            )
            for m in messages
        )
        submission.response = {
            "submission_id": submission.pk,
            "dip_id": dip_id,
            "interface_id": interface_id,
            "environment": environment,
            "messages": [
                {
                    "id": str(m.public_id),
                    "sender_unique_reference": m.sender_unique_reference,
                    "mpan_core": m.mpan_core,
                    "state": State.QUEUED.value,
                }
                for m in messages
            ],
            "findings": [finding_dict(f) for f in findings],
        }
        submission.save(update_fields=["response"])
        from messaging.outbound.services.sender import nudge

        transaction.on_commit(lambda: nudge(environment, dip_id, interface_id))
    return SubmitResult(submission, submission.response, replayed=False)
