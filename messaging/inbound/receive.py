"""Capture one verified DIP callback: raw bytes, receipt, message index rows — one transaction.

The webhook (``messaging.inbound.webhook``) calls :func:`receive` inside the tenant schema after
the signature verified. Level 1 (syntax: UTF-8, JSON, array shape) runs here; levels 2-4 run
after the acknowledgement (``messaging.inbound.processing``). Each array element that passed
level 1 becomes a ``messaging.Message`` unless its ``D0.transactionID`` is already stored: then
it is acknowledged again (the DIP retried or replayed it), counted on the stored message
(``duplicate_count``) and on the receipt, and not stored twice. Nothing returns until the
transaction committed; processing is enqueued after commit (the sweeper covers a lost nudge).
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from dip.codes import Side
from dip.envelope import Message as DipMessage
from dip.envelope import parse_batch
from dip.errors import Level
from dip.responses import HttpReply, webhook_reply
from dip.signing import VerifiedSignature
from dip.validation import ValidationContext, validate_batch
from messaging import services as store
from messaging.inbound.models import InboundReceipt
from messaging.inbound.routes import Route
from messaging.models import FeedEvent, Message, RawBody, Transition
from messaging.states import Direction, State

log = logging.getLogger(__name__)
_json_default = DjangoJSONEncoder().default
EDGE = ValidationContext(side=Side.RCP, max_level=Level.SYNTAX)
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "user-agent",
    "x-dip-signature-date",
    "x-dip-content-hash",
    "x-dip-signature",
    "x-dip-signature-certificate",
    "x-dip-mpo",
    "x-request-id",
)


@dataclass(frozen=True, slots=True)
class Received:
    reply: HttpReply
    receipt_id: int
    message_ids: list[int]
    duplicates: list[str]


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lower = {k.lower(): v for k, v in headers.items()}
    return {k: lower[k] for k in KEPT_HEADERS if k in lower}


def verification_details(signed: VerifiedSignature) -> dict[str, Any]:
    return {
        "ok": True,
        "subject": signed.subject,
        "fingerprint_sha256": signed.fingerprint_sha256,
        "signed_at": signed.signed_at.isoformat(),
    }


@functools.cache
def _message_template() -> dict[str, Any]:
    """Every ``Message`` column with the model's default (computed once per process), so a new
    field gets its default here without this module knowing about it."""
    now = timezone.now()
    return _row(Message(raw_id=0, state_changed_at=now, created=now))


def _uuid4s(n: int) -> list[str]:
    """``n`` random (version 4) UUIDs as text, from one ``urandom`` call."""
    raw = os.urandom(16 * n)
    return [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, 16 * n, 16)]


def _message_rows(route: Route, messages: list[DipMessage], at: datetime) -> list[dict[str, Any]]:
    """Column values of the new ``Message`` rows, straight from the envelope (building model
    instances to read them back cost more than the rest of the capture's Python)."""
    base = {
        **_message_template(),
        "direction": Direction.INBOUND,
        "state": State.RECEIVED,
        "state_changed_at": at,
        "created": at,
        "environment": route.environment,
        "dip_id": route.dip_id,
        "raw_id": 0,  # the statement fills in the stored body's id
    }
    rows = []
    for m, public_id in zip(messages, _uuid4s(len(messages)), strict=True):
        common = m.common_dict
        d0 = common.get("D0")
        publication = d0.get("publicationID") if isinstance(d0, dict) else None
        row = dict(base)
        row["public_id"] = public_id
        row["interface_id"] = (m.interface_id or route.interface_id)[:12]
        row["event_code"] = (m.event_code or "")[:60]
        row["schema_version"] = (m.schema_version or "")[:10]
        row["counterparty_dip_id"] = (m.sender_dip_id or "")[:20]
        row["dcp_id"] = (m.dcp_id or "")[:20]
        row["mpan_core"] = (m.mpan_core or "")[:13]
        row["sender_unique_reference"] = (m.sender_unique_reference or "")[:200]
        row["transaction_id"] = (m.transaction_id or "")[:65]
        row["correlation_id"] = (m.correlation_id or "")[:60]
        row["publication_id"] = (publication if isinstance(publication, str) else "")[:65]
        row["raw_index"] = m.index
        row["common_block"] = common
        rows.append(row)
    return rows


def receive(
    *,
    route: Route,
    body: bytes,
    headers: Mapping[str, str],
    signed: VerifiedSignature,
    now: datetime | None = None,
) -> Received:
    batch = parse_batch(body, side=Side.RCP, max_bytes=settings.INBOUND_MAX_BYTES)
    report = validate_batch(batch, EDGE)
    reply = webhook_reply(report, recipient_dip_id=route.dip_id)
    ok = [r.message for r in report.results if r.ok]
    for attempt in (1, 2):
        try:
            return _store(
                route, body, headers, signed, report.findings, reply, ok, len(report.results), now
            )
        except IntegrityError:
            # A concurrent delivery of the same bytes committed its raw body first (the raw
            # CTE cannot see it yet); the second pass finds the stored body. Concurrent
            # deliveries of the same transaction need no retry: ON CONFLICT waits and counts.
            if attempt == 2:
                raise
            log.info("inbound: concurrent duplicate on %s, retrying", route.dip_id)
    raise AssertionError("unreachable")


_STATEMENTS: dict[str, str] = {}


def _statement(schema: str) -> str:
    """The whole capture as ONE statement (so one round trip and, in autocommit, its own
    transaction): raw body (insert, or the stored row for identical bytes), the messages —
    ``ON CONFLICT`` on the inbound transaction-id index counts a re-delivery on the stored row
    instead (the arbiter index is fixed, so no planner estimate can turn the duplicate check
    into a scan, as an ``UPDATE ... WHERE transaction_id = ANY(...)`` did on a young table) —
    their first transition and ``message.received`` feed event (in message order, new
    messages only), and the receipt. Tables are qualified
    with the tenant schema, so no ``SET search_path`` either. Column lists come from the models;
    the rows travel as JSON (messages from ``_message_rows``, the receipt from its model
    instance) expanded with ``jsonb_populate_record[set]``; the raw id and duplicate counts are
    filled in here."""
    cached = _STATEMENTS.get(schema)
    if cached is not None:
        return cached
    q = connection.ops.quote_name

    def table(model: type[Model]) -> str:
        return f"{q(schema)}.{q(model._meta.db_table)}"

    def columns(model: type[Model], replace: dict[str, str]) -> tuple[str, str]:
        cols = [str(f.column) for f in model._meta.concrete_fields if not f.primary_key]
        return ", ".join(q(c) for c in cols), ", ".join(replace.get(c, f"r.{q(c)}") for c in cols)

    raw, msg, rc = table(RawBody), table(Message), table(InboundReceipt)
    m_cols, m_vals = columns(Message, {"raw_id": "(SELECT id FROM raw)"})
    r_cols, r_vals = columns(
        InboundReceipt,
        {
            "raw_id": "(SELECT id FROM raw)",
            "duplicate_count": "(SELECT count(*) FROM dup) + %(repeats)s",
            "duplicate_transaction_ids": "jsonb_path_query_array((SELECT COALESCE(jsonb_agg("
            "transaction_id ORDER BY transaction_id), '[]') FROM dup) || %(repeat_ids)s::jsonb,"
            " '$[0 to 999]')",
        },
    )
    sql = f"""
    WITH raw_new AS (
        INSERT INTO {raw} (sha256, size, content, storage_name, created, archived_at)
        VALUES (%(sha256)s, %(size)s, %(body)b, '', %(now)s, NULL)
        ON CONFLICT (sha256) DO NOTHING RETURNING id
    ), raw AS (
        SELECT id FROM raw_new
        UNION ALL SELECT id FROM {raw} WHERE sha256 = %(sha256)s
        LIMIT 1
    ), msg AS (
        INSERT INTO {msg} AS m ({m_cols})
        SELECT {m_vals} FROM jsonb_populate_recordset(NULL::{msg}, %(messages)s::jsonb) r
        ON CONFLICT (transaction_id, environment)
            WHERE direction = 'inbound' AND transaction_id <> ''
        DO UPDATE SET duplicate_count = m.duplicate_count + 1
        RETURNING m.id, m.public_id, m.transaction_id, m.xmax = 0 AS inserted
    ), new AS (
        SELECT id, public_id FROM msg WHERE inserted
    ), dup AS (
        SELECT transaction_id FROM msg WHERE NOT inserted
    ), tr AS (
        INSERT INTO {table(Transition)}
            (message_id, from_state, to_state, at, actor, reason, details)
        SELECT id, '', %(state)s, %(now)s, %(actor)s, %(reason)s, '{{}}'::jsonb FROM new
    ), fe AS (
        INSERT INTO {table(FeedEvent)}
            (kind, message_id, mpan_core, interface_id, payload, created, seq)
        SELECT %(kind)s, new.id, e.mpan_core, e.interface_id, e.payload, %(now)s, NULL
        FROM new JOIN jsonb_to_recordset(%(events)s::jsonb)
            AS e(ord int, public_id uuid, mpan_core text, interface_id text, payload jsonb)
            ON e.public_id = new.public_id
        ORDER BY e.ord
    ), rc AS (
        INSERT INTO {rc} ({r_cols})
        SELECT {r_vals} FROM jsonb_populate_record(NULL::{rc}, %(receipt)s::jsonb) r
        RETURNING id
    )
    SELECT (SELECT id FROM rc), ARRAY(SELECT id FROM new ORDER BY id),
           ARRAY(SELECT transaction_id FROM dup ORDER BY transaction_id)
    """  # noqa: S608 (identifiers from the models and the route, quoted)
    _STATEMENTS[schema] = sql
    return sql


_ONLY_WHEN_ASKED = 2**31 - 1  # a psycopg prepare threshold no other query ever reaches


def _cursor() -> psycopg.Cursor[Any]:
    """One reusable server-side-binding cursor per database connection, kept on Django's
    (per-thread) connection wrapper: psycopg then keeps the query's converted form and its
    adaptation context between callbacks. A reconnect gets a new cursor."""
    connection.ensure_connection()
    pg = connection.connection
    cur: psycopg.Cursor[Any] | None = getattr(connection, "_inbound_capture_cursor", None)
    if cur is None or cur.closed or cur.connection is not pg:
        cur = psycopg.Cursor(pg)
        setattr(connection, "_inbound_capture_cursor", cur)  # noqa: B010 (not a declared attr)
    return cur


def _execute(sql: str, params: dict[str, Any]) -> Any:
    """Run the capture on Django's own connection (same transaction) with server-side parameter
    binding: the body travels as binary ``bytea`` and the JSON documents as text parameters,
    instead of being escaped into a ~50 KB SQL literal (Django's default client-side binding)
    that PostgreSQL must lex and parse again. With ``INBOUND_PREPARED_STATEMENTS`` (default on;
    turn it off behind a transaction-pooling PgBouncer older than 1.21) the statement is also
    prepared once per connection, so each callback skips parse, analysis and planning — about a
    third of PostgreSQL's work per callback. Only this statement is prepared: Django keeps
    psycopg's automatic preparation off for everything else."""
    cur = _cursor()
    pg = cur.connection
    prepare = bool(settings.INBOUND_PREPARED_STATEMENTS)
    saved = pg.prepare_threshold
    if prepare and saved is None:  # None disables preparation outright, even when asked
        pg.prepare_threshold = _ONLY_WHEN_ASKED
    try:
        cur.execute(sql, params, prepare=prepare)
        return cur.fetchone()
    finally:
        pg.prepare_threshold = saved


def _row(obj: Model) -> dict[str, Any]:
    return {
        str(f.column): f.pre_save(obj, True) for f in obj._meta.concrete_fields if not f.primary_key
    }


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_json_default).decode()


def _store(
    route: Route,
    body: bytes,
    headers: Mapping[str, str],
    signed: VerifiedSignature,
    findings: list[Any],
    reply: HttpReply,
    ok: list[DipMessage],
    count: int,
    now: datetime | None,
) -> Received:
    at = now or timezone.now()
    by_txn: dict[str, DipMessage] = {}
    candidates: list[DipMessage] = []
    repeats: list[str] = []
    for m in ok:
        txn = (m.transaction_id or "")[:65]
        if not txn:
            candidates.append(m)  # L4 rejects it (RCP1043); nothing to de-duplicate on
        elif txn in by_txn:
            repeats.append(txn)  # the same transaction twice in one callback
        else:
            by_txn[txn] = m
            candidates.append(m)
    rows = _message_rows(route, candidates, at)
    events = [
        {
            "ord": i,
            "public_id": row["public_id"],
            "mpan_core": row["mpan_core"],
            "interface_id": row["interface_id"],
            "payload": store.feed_payload_of(row),
        }
        for i, row in enumerate(rows)
    ]
    receipt = InboundReceipt(
        channel_id=route.channel_id,
        interface_id=route.interface_id,
        dip_id=route.dip_id,
        environment=route.environment,
        sha256="",
        size=len(body),
        headers=kept_headers(headers),
        outcome={201: "accepted", 207: "partial"}.get(reply.status, "rejected"),
        http_status=reply.status,
        verified=True,
        verification=verification_details(signed),
        message_count=count,
        accepted_count=len(ok),
        findings=[_finding(f) for f in findings if f.is_error][:100],
        received_at=at,
    )
    receipt.sha256 = digest = store.sha256_hex(body)
    params = {
        "sha256": digest,
        "size": len(body),
        "body": body,
        "now": at,
        "messages": _json(rows),
        "state": State.RECEIVED,
        "actor": "dip",
        "reason": "DIP delivery",
        "kind": FeedEvent.Kind.MESSAGE_RECEIVED,
        "events": _json(events),
        "receipt": _json(_row(receipt)),
        "repeats": len(repeats),
        "repeat_ids": _json(repeats),
    }
    sql = _statement(route.tenant.schema_name)
    if connection.in_atomic_block:  # a caller's transaction (tests): a savepoint to retry in
        with transaction.atomic():
            receipt_id, ids, stored = _execute(sql, params)
    else:  # autocommit: the one statement is its own transaction — no BEGIN/COMMIT trips
        receipt_id, ids, stored = _execute(sql, params)
    duplicates = list(stored) + repeats
    if ids or duplicates:  # runs now in autocommit, after the caller's commit otherwise
        schema = route.tenant.schema_name
        transaction.on_commit(lambda: _enqueue(schema, list(ids), receipt_id), robust=True)
    return Received(reply, receipt_id, list(ids), duplicates)


def _finding(f: Any) -> dict[str, Any]:
    return {"code": f.code, "path": f.path, "message": f.message[:300], "index": f.index}


def _enqueue(schema: str, message_ids: list[int], receipt_id: int) -> None:
    from messaging.inbound import nudge

    # Published off the request thread, batched (messaging.inbound.nudge); the schema travels
    # in the task header without switching this connection (which would cost a SET).
    nudge.nudge(schema, message_ids, receipt_id)


def record_rejection(
    *,
    route: Route,
    body: bytes,
    headers: Mapping[str, str],
    reason: str,
    detail: str,
    status: int,
) -> InboundReceipt:
    """A callback that failed verification: headers and reason kept, the body is not (it is
    not proven to come from the DIP)."""
    return InboundReceipt.objects.create(
        channel_id=route.channel_id,
        interface_id=route.interface_id,
        dip_id=route.dip_id,
        environment=route.environment,
        raw=None,
        sha256=store.sha256_hex(body),
        size=len(body),
        headers=kept_headers(headers),
        outcome=InboundReceipt.Outcome.SIGNATURE,
        http_status=status,
        verified=False,
        verification={"ok": False, "reason": reason, "detail": detail[:500]},
        received_at=timezone.now(),
    )
