"""Staged validation of a batch, the way the DIP does it (PROTOCOL.md §5.1).

1. SYNTAX - encoding, JSON, size, array shape (:func:`dip.envelope.parse_batch`).
2. SCHEMA - interface/event/schemaVersion, the variant's JSON Schema, identifiers
   (:mod:`dip.validation.schema`).
3. CONTEXT - channel, environment, roles, DCP nomination, recipients, clock
   (:mod:`dip.validation.context`).
4. BUSINESS - per-interface rules from a :class:`~dip.validation.rules.RuleRegistry`.

Each message stops at the first level that produced an *error* (warnings do not stop it), and
never goes beyond ``ValidationContext.max_level``. A batch-level SYNTAX failure (not UTF-8, not
JSON, too large, not a non-empty array) leaves no messages to check. Nothing here raises for
bad input: every problem is a :class:`~dip.errors.Finding`.

Usage::

    ctx = ValidationContext(side=Side.RCP, environment="UIT", spec_version="2.1.0")
    report = validate_batch(raw_body, ctx)
    report.ok, report.findings, report.results[0].findings
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dip import codes
from dip.catalogue import DEFAULT_SPEC_VERSION, load_catalogue
from dip.codes import Side
from dip.envelope import DEFAULT_MAX_BYTES, Message, ParsedBatch, item_shape_finding, parse_batch
from dip.errors import Finding, Level, Severity
from dip.validation.context import check_context
from dip.validation.rules import DEFAULT_RULES, RuleRegistry, business_finding
from dip.validation.schema import check_schema

__all__ = [
    "DEFAULT_RULES",
    "MessageResult",
    "RuleRegistry",
    "ValidationContext",
    "ValidationReport",
    "business_finding",
    "validate_batch",
    "validate_message",
]


@dataclass(frozen=True, slots=True)
class ValidationContext:
    """Who validates, against which spec edition, and what the context expects.

    ``None`` for an expectation means "do not check it". The hooks are plain callables so the
    web app can back them with the database and the sandbox with in-memory tables.
    """

    side: Side = Side.MSG
    spec_version: str = DEFAULT_SPEC_VERSION
    max_level: Level = Level.BUSINESS
    max_bytes: int = DEFAULT_MAX_BYTES
    reject_duplicate_keys: bool = False
    environment: str | None = None
    channel_interface_id: str | None = None
    dcp_dip_id: str | None = None
    recipient_dip_id: str | None = None
    now: datetime | None = None
    max_future_skew: timedelta = timedelta(minutes=5)
    expect_replay: bool | None = None
    is_nominated: Callable[[str, str], bool] | None = None  # (sender_dip_id, dcp_dip_id)
    is_known_dip_id: Callable[[str], bool] | None = None
    is_duplicate_sur: Callable[[str, str], bool] | None = None  # (sender_dip_id, sur)
    rules: RuleRegistry = field(default_factory=lambda: DEFAULT_RULES)


@dataclass(frozen=True, slots=True)
class MessageResult:
    message: Message
    findings: list[Finding]
    level_reached: Level  # the last level that ran for this message

    @property
    def index(self) -> int:
        return self.message.index

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)

    @property
    def first_error(self) -> Finding | None:
        return next((f for f in self.findings if f.is_error), None)


@dataclass(frozen=True, slots=True)
class ValidationReport:
    batch: ParsedBatch
    results: list[MessageResult]
    batch_findings: list[Finding]  # findings not about one message (index None)

    @property
    def findings(self) -> list[Finding]:
        return [*self.batch_findings, *(f for r in self.results for f in r.findings)]

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.batch_findings) and all(r.ok for r in self.results)

    @property
    def syntax_ok(self) -> bool:
        """Level 1 passed for the whole batch (the DIP's accept/reject of a send, §3.3)."""
        return not any(f.is_error and f.level is Level.SYNTAX for f in self.findings)


def _errors(findings: list[Finding]) -> bool:
    return any(f.is_error for f in findings)


def validate_batch(
    raw: bytes | ParsedBatch, ctx: ValidationContext | None = None
) -> ValidationReport:
    """Validate a batch (bytes, or an already parsed batch) up to ``ctx.max_level``."""
    ctx = ctx or ValidationContext()
    batch = (
        raw
        if isinstance(raw, ParsedBatch)
        else parse_batch(
            raw,
            side=ctx.side,
            max_bytes=ctx.max_bytes,
            reject_duplicate_keys=ctx.reject_duplicate_keys,
        )
    )
    batch_findings = [f for f in batch.findings if f.index is None]
    by_index: dict[int, list[Finding]] = {}
    for f in batch.findings:
        if f.index is not None:
            by_index.setdefault(f.index, []).append(f)
    seen_surs: set[tuple[str, str]] = set()
    results = [_validate(m, ctx, by_index.get(m.index, []), seen_surs) for m in batch.messages]
    return ValidationReport(batch, results, batch_findings)


def validate_message(
    message: Message | dict[str, Any], ctx: ValidationContext | None = None
) -> MessageResult:
    """Validate one array element (``{"payload": ...}``) already in memory (levels 1-4)."""
    ctx = ctx or ValidationContext()
    m = message if isinstance(message, Message) else Message(message, 0)
    item = m.item
    shape_ok = isinstance(item, dict) and len(item) == 1 and isinstance(item.get("payload"), dict)
    syntax = [] if shape_ok else [item_shape_finding(item, m.index, ctx.side)]
    return _validate(m, ctx, syntax, set())


def _validate(
    m: Message, ctx: ValidationContext, syntax: list[Finding], seen: set[tuple[str, str]]
) -> MessageResult:
    findings = list(syntax)
    if _errors(findings) or ctx.max_level < Level.SCHEMA:
        return MessageResult(m, findings, Level.SYNTAX)
    cat = load_catalogue(ctx.spec_version)
    findings.extend(check_schema(m, cat, ctx.side))
    if _errors(findings) or ctx.max_level < Level.CONTEXT:
        return MessageResult(m, findings, Level.SCHEMA)
    findings.extend(check_context(m, cat, ctx, seen))
    if _errors(findings) or ctx.max_level < Level.BUSINESS:
        return MessageResult(m, findings, Level.CONTEXT)
    for rule in ctx.rules.rules_for(m.interface_id or ""):
        try:
            findings.extend(rule(m, ctx))
        except Exception as exc:  # a broken rule must not break validation
            name = getattr(rule, "__name__", "rule")
            code = codes.pick(codes.PROCESSING, ctx.side)
            msg = f"business rule {name} failed: {type(exc).__name__}: {exc}"
            findings.append(
                Finding(code, Severity.ERROR, f"$[{m.index}]", msg, Level.BUSINESS, m.index)
            )
    return MessageResult(m, findings, Level.BUSINESS)
