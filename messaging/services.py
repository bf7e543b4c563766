"""Writes to the message store: raw bytes, messages, transitions, exceptions, feed events.

Every state change goes through ``transition()``, which checks the state machine, updates the
message only if it is still in the expected state (so two workers cannot both move it) and
appends the Transition row — in the caller's transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from messaging.models import (
    ExceptionCategory,
    FeedEvent,
    Message,
    MessageException,
    RawBody,
    Transition,
)
from messaging.states import FINAL_STATES, Direction, State, can_move

# Client-visible states: reaching one of these emits a feed event (pushed and pollable).
NOTIFY_STATES = frozenset(
    {State.ACCEPTED, State.SETTLED, State.REJECTED, State.FAILED, State.EXPIRED, State.SENT}
)
_FEED_LOCK = 0x0DC9_FEED  # advisory lock key, per schema (each tenant has its own table)


class IllegalTransition(Exception):
    def __init__(self, message: Message, to_state: str) -> None:
        super().__init__(
            f"message {message.public_id} cannot go from {message.state} to {to_state} "
            f"({message.direction})"
        )
        self.to_state = to_state


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_raw(data: bytes) -> RawBody:
    """Store bytes once, addressed by SHA-256 (identical bytes share a row).

    One statement in the common case (``INSERT … ON CONFLICT (sha256) DO NOTHING RETURNING``),
    a second to read the existing row when the bytes are already stored; no savepoint. A
    concurrent insert of the same bytes makes ours wait for its outcome, so the follow-up read
    sees the committed row (or ours goes in when theirs rolled back)."""
    digest = sha256_hex(data)
    now = timezone.now()
    for _ in range(3):
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO messaging_rawbody "
                "(sha256, size, content, storage_name, created, archived_at) "
                "VALUES (%s, %s, %s, '', %s, NULL) ON CONFLICT (sha256) DO NOTHING RETURNING id",
                [digest, len(data), data, now],
            )
            row = cur.fetchone()
        if row is not None:
            raw = RawBody(
                id=row[0], sha256=digest, size=len(data), content=data, storage_name="", created=now
            )
            raw._state.adding, raw._state.db = False, connection.alias
            return raw
        existing = RawBody.objects.filter(sha256=digest).only("id", "sha256", "size").first()
        if existing is not None:
            return existing
    raise RuntimeError(f"raw body {digest} neither inserted nor found")


def raw_bytes(raw: RawBody) -> bytes:
    """The exact stored bytes, from PostgreSQL or (once archived) object storage."""
    if raw.content is not None:
        return bytes(raw.content)
    from django.core.files.storage import default_storage

    with default_storage.open(raw.storage_name, "rb") as fh:
        data: bytes = fh.read()
    if sha256_hex(data) != raw.sha256:
        raise ValueError(f"archived raw body {raw.sha256} does not match its hash")
    return data


@dataclass(frozen=True)
class NewMessage:
    direction: str
    environment: str
    interface_id: str
    dip_id: str
    raw: RawBody
    event_code: str = ""
    schema_version: str = ""
    spec_version: str = "2.1.0"
    counterparty_dip_id: str = ""
    dcp_id: str = ""
    mpan_core: str = ""
    sender_unique_reference: str = ""
    transaction_id: str = ""
    correlation_id: str = ""
    publication_id: str = ""
    raw_index: int | None = None
    common_block: dict[str, Any] | None = None
    findings: list[dict[str, Any]] | None = None
    state: str = State.RECEIVED


def new_message_objects(items: Iterable[NewMessage], now: datetime) -> list[Message]:
    """Unsaved ``Message`` instances for ``items`` (state changed and created at ``now``)."""
    return [
        Message(
            direction=i.direction,
            state=i.state,
            state_changed_at=now,
            created=now,
            environment=i.environment,
            spec_version=i.spec_version,
            interface_id=i.interface_id,
            event_code=i.event_code,
            schema_version=i.schema_version,
            dip_id=i.dip_id,
            counterparty_dip_id=i.counterparty_dip_id,
            dcp_id=i.dcp_id,
            mpan_core=i.mpan_core,
            sender_unique_reference=i.sender_unique_reference,
            transaction_id=i.transaction_id,
            correlation_id=i.correlation_id,
            publication_id=i.publication_id,
            raw=i.raw,
            raw_index=i.raw_index,
            common_block=i.common_block or {},
            findings=i.findings or [],
        )
        for i in items
    ]


def create_messages(items: Iterable[NewMessage], *, actor: str, reason: str = "") -> list[Message]:
    """Insert messages and their first transition in bulk (the hot path of both pipelines)."""
    now = timezone.now()
    messages = new_message_objects(items, now)
    with transaction.atomic(savepoint=False):
        insert_rows(Message, messages)
        transitions = [
            Transition(
                message=m, from_state="", to_state=m.state, at=now, actor=actor, reason=reason
            )
            for m in messages
        ]
        events = [
            FeedEvent(
                kind=FeedEvent.Kind.MESSAGE_RECEIVED,
                message=m,
                mpan_core=m.mpan_core,
                interface_id=m.interface_id,
                payload=feed_payload(m),
                created=now,
            )
            for m in messages
            if m.direction == Direction.INBOUND
        ]
        insert_rows(Transition, transitions, returning=False)
        if events:
            insert_rows(FeedEvent, events, returning=False)
    return messages


_json_default = DjangoJSONEncoder().default


def insert_rows(
    model: type[models.Model],
    objs: list[Any],
    *,
    returning: bool = True,
    ignore_conflicts: bool = False,
) -> None:
    """``bulk_create`` in one statement with one parameter: the rows as a JSON array, expanded
    by ``jsonb_populate_recordset`` against the table's own row type. Much cheaper than
    Django's per-value array binding for wide rows; ids come back in row order and are set on
    the objects (``returning``). Field defaults and ``pre_save`` (auto_now_add) apply as in
    ``bulk_create``; no signals (bulk_create sends none either)."""
    if not objs:
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    rows = [{f.column: f.pre_save(o, True) for f in fields} for o in objs]
    q = connection.ops.quote_name
    table, cols = q(meta.db_table), ", ".join(q(str(f.column)) for f in fields)
    sql = (
        f"INSERT INTO {table} ({cols}) SELECT {cols} "  # noqa: S608 (quoted model names)
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
    )
    if ignore_conflicts:  # rows that would conflict are skipped (no ids to hand back then)
        sql += " ON CONFLICT DO NOTHING"
        returning = False
    payload = orjson.dumps(rows, default=_json_default).decode()
    with connection.cursor() as cur:
        if not returning:
            cur.execute(sql, [payload])
            return
        cur.execute(sql + f" RETURNING {q(str(meta.pk.column))}", [payload])
        ids = [r[0] for r in cur.fetchall()]
    for o, pk in zip(objs, ids, strict=True):
        o.pk = pk
        o._state.adding, o._state.db = False, connection.alias


def transition(
    message: Message,
    to_state: str,
    *,
    actor: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> bool:
    """Move ``message`` to ``to_state`` if the machine allows it and nobody moved it first.

    Returns False (and changes nothing) when the message is no longer in the state the caller
    saw — the caller lost a race and should reload. Raises IllegalTransition for a move the
    state machine forbids."""
    if not can_move(message.direction, message.state, to_state):
        raise IllegalTransition(message, to_state)
    now = at or timezone.now()
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, state=message.state).update(
            state=to_state, state_changed_at=now
        )
        if not updated:
            return False
        Transition.objects.create(
            message=message,
            from_state=message.state,
            to_state=to_state,
            at=now,
            actor=actor,
            reason=reason[:500],
            details=details or {},
        )
        message.state, message.state_changed_at = to_state, now
        if message.direction == Direction.OUTBOUND and to_state in NOTIFY_STATES:
            FeedEvent.objects.create(
                kind=FeedEvent.Kind.STATUS_CHANGED,
                message=message,
                mpan_core=message.mpan_core,
                interface_id=message.interface_id,
                payload=feed_payload(message, reason=reason),
                created=now,
            )
    return True


def transition_many(
    messages: list[Message],
    to_state: str,
    *,
    actor: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
    per_message: dict[int, dict[str, Any]] | None = None,
    at: datetime | None = None,
) -> list[Message]:
    """``transition()`` for a batch (the outbound sender moves a DIP batch at once).

    Same rules: every message must be allowed to make the move (else IllegalTransition), and
    only those still in the state the caller saw are moved (one UPDATE per distinct from-state);
    their Transition rows and feed events are bulk-inserted. Returns the messages moved — the
    others lost a race and should be reloaded. ``per_message`` adds details per message pk."""
    for m in messages:
        if not can_move(m.direction, m.state, to_state):
            raise IllegalTransition(m, to_state)
    if not messages:
        return []
    now = at or timezone.now()
    moved: list[Message] = []
    with transaction.atomic():
        by_state: dict[str, list[Message]] = {}
        for m in messages:
            by_state.setdefault(m.state, []).append(m)
        for from_state, group in by_state.items():
            ids = set(  # row locks: a concurrent mover either went first or waits
                Message.objects.select_for_update()
                .filter(pk__in=[m.pk for m in group], state=from_state)
                .values_list("pk", flat=True)
            )
            if not ids:
                continue
            Message.objects.filter(pk__in=ids, state=from_state).update(
                state=to_state, state_changed_at=now
            )
            moved.extend(m for m in group if m.pk in ids)
        Transition.objects.bulk_create(
            Transition(
                message=m,
                from_state=m.state,
                to_state=to_state,
                at=now,
                actor=actor,
                reason=reason[:500],
                details={**(details or {}), **((per_message or {}).get(m.pk) or {})},
            )
            for m in moved
        )
        for m in moved:
            m.state, m.state_changed_at = to_state, now
        if to_state in NOTIFY_STATES:
            FeedEvent.objects.bulk_create(
                FeedEvent(
                    kind=FeedEvent.Kind.STATUS_CHANGED,
                    message=m,
                    mpan_core=m.mpan_core,
                    interface_id=m.interface_id,
                    payload=feed_payload(m, reason=reason),
                    created=now,
                )
                for m in moved
                if m.direction == Direction.OUTBOUND
            )
    return moved


def settle_many(
    rows: list[tuple[Message, str, str, dict[str, Any]]], *, actor: str, at: datetime
) -> list[Message]:
    """Bulk ``transition()`` for inbound processing: each row is (message, to_state, reason,
    extra column values). One UPDATE guarded by each message's current state (a message moved
    by someone else is left alone) and one INSERT of the Transition rows. Returns the moved
    messages (updated in memory). No feed events: only outbound moves emit them here."""
    for m, to_state, _, _ in rows:
        if not can_move(m.direction, m.state, to_state):
            raise IllegalTransition(m, to_state)
    if not rows:
        return []
    payload = [
        {"id": m.pk, "from": m.state, "to": to, **{k: v for k, v in extra.items()}}
        for m, to, _, extra in rows
    ]
    columns = sorted({k for _, _, _, extra in rows for k in extra})
    meta = {f.column: f for f in Message._meta.concrete_fields}
    q = connection.ops.quote_name
    sets = "".join(f", {q(c)} = r.{q(c)}" for c in columns)
    types = "".join(f", {q(c)} {meta[c].db_type(connection)}" for c in columns)
    sql = (
        f"UPDATE messaging_message m SET state = r.to, state_changed_at = %s{sets} "  # noqa: S608
        f'FROM jsonb_to_recordset(%s::jsonb) AS r(id bigint, "from" text, "to" text{types}) '
        'WHERE m.id = r.id AND m.state = r."from" RETURNING m.id'
    )
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        cur.execute(sql, [at, orjson.dumps(payload, default=_json_default).decode()])
        moved_ids = {r[0] for r in cur.fetchall()}
        moved = [(m, to, reason) for m, to, reason, _ in rows if m.pk in moved_ids]
        insert_rows(
            Transition,
            [
                Transition(
                    message=m,
                    from_state=m.state,
                    to_state=to,
                    at=at,
                    actor=actor,
                    reason=reason[:500],
                    details={},
                )
                for m, to, reason in moved
            ],
            returning=False,
        )
    for m, to, _ in moved:
        m.state, m.state_changed_at = to, at
    return [m for m, _, _ in moved]


def open_exceptions(items: list[tuple[Message, dict[str, Any]]], *, at: datetime) -> int:
    """Bulk ``open_exception()``: (message, fields: category, summary, code, details); an
    identical open one (same message, category and code) is reused, as there."""
    if not items:
        return 0
    for _, f in items:
        ExceptionCategory(f["category"])  # validates
    existing = set(
        MessageException.objects.filter(
            message_id__in={m.pk for m, _ in items}, status=MessageException.Status.OPEN
        ).values_list("message_id", "category", "code")
    )
    new: list[MessageException] = []
    for m, f in items:
        key = (m.pk, f["category"], f.get("code", ""))
        if key in existing:
            continue
        existing.add(key)
        new.append(
            MessageException(
                message=m,
                category=f["category"],
                code=f.get("code", ""),
                summary=f["summary"][:500],
                details=f.get("details") or {},
                opened_at=at,
            )
        )
    insert_rows(MessageException, new, returning=False)
    return len(new)


def is_final(message: Message) -> bool:
    return message.state in FINAL_STATES[Direction(message.direction)]


def open_exception(
    message: Message,
    *,
    category: str,
    summary: str,
    code: str = "",
    details: dict[str, Any] | None = None,
) -> MessageException:
    """Record a categorised problem; an identical open one (same category and code) is reused."""
    ExceptionCategory(category)  # validates
    existing = MessageException.objects.filter(
        message=message, category=category, code=code, status=MessageException.Status.OPEN
    ).first()
    if existing is not None:
        return existing
    return MessageException.objects.create(
        message=message,
        category=category,
        code=code,
        summary=summary[:500],
        details=details or {},
        opened_at=timezone.now(),
    )


def resolve_exceptions(message: Message, *, by: str, resolution: str) -> int:
    return MessageException.objects.filter(
        message=message, status=MessageException.Status.OPEN
    ).update(
        status=MessageException.Status.RESOLVED,
        resolved_at=timezone.now(),
        resolved_by=by,
        resolution=resolution[:500],
    )


FEED_FIELDS = (
    "direction",
    "state",
    "interface_id",
    "event_code",
    "dip_id",
    "mpan_core",
    "transaction_id",
    "sender_unique_reference",
)


def feed_payload(message: Message, *, reason: str = "") -> dict[str, Any]:
    row = {f: getattr(message, f) for f in FEED_FIELDS}
    row["public_id"] = message.public_id
    return feed_payload_of(row, reason=reason)


def feed_payload_of(row: Mapping[str, Any], *, reason: str = "") -> dict[str, Any]:
    """The feed event payload from a message's column values (``public_id`` and
    :data:`FEED_FIELDS`): what :func:`feed_payload` gives for the saved message."""
    payload: dict[str, Any] = {"message_id": str(row["public_id"])}
    for f in FEED_FIELDS:
        payload[f] = row[f]
    if reason:
        payload["reason"] = reason
    return payload


def publish_feed_events(limit: int = 5000) -> int:
    """Give committed, unsequenced feed events their place in the feed (``seq``), in id order.

    Serialised per schema by a transaction-level advisory lock, so sequence numbers are handed
    out only to rows that are visible (committed) now; a row whose transaction commits later
    gets a later number. Cheap when there is nothing to do; called by the feed reader and the
    push worker."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_FEED_LOCK])
        cur.execute(
            """
            WITH todo AS (
                SELECT id FROM messaging_feedevent WHERE seq IS NULL ORDER BY id LIMIT %s
            ), base AS (
                SELECT COALESCE(MAX(seq), 0) AS top FROM messaging_feedevent
            ), numbered AS (
                SELECT todo.id, base.top + row_number() OVER (ORDER BY todo.id) AS seq
                FROM todo, base
            )
            UPDATE messaging_feedevent f SET seq = numbered.seq
            FROM numbered WHERE f.id = numbered.id
            """,
            [limit],
        )
        return cur.rowcount
