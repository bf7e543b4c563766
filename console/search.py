"""The console search: one query shape over both directions, built from validated parameters.

Everything filters columns that have an index (messaging's own, plus the ones added by
``console/migrations/0002_search_indexes.py``); paging is keyset on ``id`` descending, so
there is no result cap and page 10,000 costs what page 1 costs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dip.identifiers import check_mpan_core
from messaging.models import ExceptionCategory, Message, MessageException
from messaging.states import FAILURE_STATES, SUCCESS_STATES, Direction, State

MAX_PAGE = 500
EXACT_COUNT_CAP = 10_000
MAX_MPANS = 100_000
EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)
STATUS_GROUPS: dict[str, frozenset[str]] = {
    "success": frozenset(SUCCESS_STATES),
    "failure": frozenset(FAILURE_STATES),
    "pending": frozenset({State.RECEIVED, State.VALIDATED, State.QUEUED, State.SENT}),
}


class SearchError(ValueError):
    """Parameters that cannot make a search; ``errors`` maps a field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class LineError:
    line: int
    value: str
    reason: str


@dataclass(frozen=True)
class MpanList:
    mpans: tuple[str, ...]
    errors: tuple[LineError, ...]


def parse_mpans(text: str) -> MpanList:
    """One MPAN core per line (commas, semicolons and blanks also separate, so a CSV column
    pastes as is). Each bad entry is reported with its line number; the good ones are used."""
    good: dict[str, None] = {}
    errors: list[LineError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for token in line.replace(",", " ").replace(";", " ").split():
            value = token.strip().strip('"').strip("'")
            if not value or (number == 1 and not value.isdigit() and value.lower() == "mpan"):
                continue
            finding = check_mpan_core(value)
            if finding is not None:
                errors.append(LineError(number, value[:40], finding.message))
            elif len(good) < MAX_MPANS:
                good[value] = None
            else:
                errors.append(LineError(number, value, f"more than {MAX_MPANS} MPANs"))
    return MpanList(tuple(good), tuple(errors))


@dataclass(frozen=True)
class SearchQuery:
    mpans: tuple[str, ...] = ()
    direction: str = ""
    interface_ids: tuple[str, ...] = ()
    event_code: str = ""
    dip_id: str = ""
    counterparty_dip_id: str = ""
    status_group: str = ""
    states: tuple[str, ...] = ()
    exception_category: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None
    transaction_id: str = ""
    correlation_id: str = ""
    sender_unique_reference: str = ""
    any_id: str = ""  # matches transaction, correlation, SUR or publication id
    envelope: dict[str, str] = field(default_factory=dict)  # common_block containment

    def to_params(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("created_from", "created_to"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items() if v}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SearchQuery:
        """Rebuild from ``to_params()`` output (saved searches, bulk actions)."""
        return build_query(params, strict=True)[0]

    def querystring(self) -> str:
        from urllib.parse import urlencode

        pairs: list[tuple[str, str]] = []
        for key, value in self.to_params().items():
            if key == "mpans":
                pairs.append(("mpans", "\n".join(value)))
            elif key == "envelope":
                pairs.append(("envelope", ",".join(f"{k}={v}" for k, v in value.items())))
            elif isinstance(value, list):
                pairs.extend((key, v) for v in value)
            else:
                pairs.append((key, str(value)))
        return urlencode(pairs)


def _getlist(params: Mapping[str, Any], key: str) -> list[str]:
    if hasattr(params, "getlist"):
        values = params.getlist(key)
    else:
        raw = params.get(key)
        values = raw if isinstance(raw, list | tuple) else ([raw] if raw else [])
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return out


def _when(value: str, name: str, errors: dict[str, list[str]]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value.strip().replace(" ", "T"))
    except ValueError:  # well formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        errors.setdefault(name, []).append(
            "Use an ISO date and time to the second, e.g. 2026-11-23T18:02:10Z."
        )
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def build_query(params: Mapping[str, Any], *, strict: bool = False) -> tuple[SearchQuery, MpanList]:
    """Validate request parameters. Bad MPAN lines are reported, not fatal (unless
    ``strict``); anything else that is wrong raises SearchError with per-field messages."""
    errors: dict[str, list[str]] = {}
    raw_mpans = params.get("mpans") or ""
    if isinstance(raw_mpans, list | tuple):
        raw_mpans = "\n".join(str(m) for m in raw_mpans)
    mpan_list = parse_mpans(str(raw_mpans))
    if strict and mpan_list.errors:
        errors["mpans"] = [f"line {e.line}: {e.reason}" for e in mpan_list.errors]
    direction = str(params.get("direction") or "")
    if direction and direction not in Direction.values:
        errors.setdefault("direction", []).append(f"Unknown direction {direction!r}.")
    group = str(params.get("status_group") or "")
    if group and group not in STATUS_GROUPS:
        errors.setdefault("status_group", []).append("Choose success, failure or pending.")
    states = _getlist(params, "states")
    bad = [s for s in states if s not in State.values]
    if bad:
        errors.setdefault("states", []).append(f"Unknown state(s): {', '.join(bad)}.")
    category = str(params.get("exception_category") or "")
    if category and category not in ExceptionCategory.values:
        errors.setdefault("exception_category", []).append(f"Unknown category {category!r}.")
    start = _when(str(params.get("created_from") or ""), "created_from", errors)
    end = _when(str(params.get("created_to") or ""), "created_to", errors)
    horizon = timezone.now() + timedelta(days=1)
    for name, value in (("created_from", start), ("created_to", end)):
        if value is not None and not (EARLIEST <= value <= horizon):
            errors.setdefault(name, []).append("Out of range: messages exist from 2015 until now.")
    if start and end and end < start:
        errors.setdefault("created_to", []).append("The end is before the start.")
    envelope: dict[str, str] = {}
    raw_env = params.get("envelope") or ""
    if isinstance(raw_env, dict):
        envelope = {str(k): str(v) for k, v in raw_env.items()}
    else:
        for part in str(raw_env).split(","):
            if not part.strip():
                continue
            key, sep, val = part.partition("=")
            if not sep or not key.strip():
                errors.setdefault("envelope", []).append(
                    f"{part.strip()!r}: use field=value, e.g. S1.senderUniqueReference=ABC."
                )
            else:
                envelope[key.strip()] = val.strip()
    if errors:
        raise SearchError(errors)

    def s(key: str, limit: int = 200) -> str:
        return str(params.get(key) or "").strip()[:limit]

    query = SearchQuery(
        mpans=mpan_list.mpans,
        direction=direction,
        interface_ids=tuple(_getlist(params, "interface_ids")),
        event_code=s("event_code"),
        dip_id=s("dip_id"),
        counterparty_dip_id=s("counterparty_dip_id"),
        status_group=group,
        states=tuple(states),
        exception_category=category,
        created_from=start,
        created_to=end,
        transaction_id=s("transaction_id"),
        correlation_id=s("correlation_id"),
        sender_unique_reference=s("sender_unique_reference"),
        any_id=s("any_id"),
        envelope=envelope,
    )
    return query, mpan_list


def _nest(path: str, value: str) -> dict[str, Any]:
    """``S1.senderUniqueReference=X`` → ``{"S1": {"senderUniqueReference": "X"}}``."""
    out: dict[str, Any] = {}
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def matching(query: SearchQuery) -> QuerySet[Message]:
    qs = Message.objects.all()
    if query.mpans:
        qs = qs.filter(mpan_core__in=query.mpans)
    if query.direction:
        qs = qs.filter(direction=query.direction)
    if query.interface_ids:
        qs = qs.filter(interface_id__in=query.interface_ids)
    for name in ("event_code", "dip_id", "counterparty_dip_id", "transaction_id"):
        if getattr(query, name):
            qs = qs.filter(**{name: getattr(query, name)})
    if query.correlation_id:
        qs = qs.filter(correlation_id=query.correlation_id)
    if query.sender_unique_reference:
        qs = qs.filter(sender_unique_reference=query.sender_unique_reference)
    states: set[str] | None = None
    if query.status_group:
        states = set(STATUS_GROUPS[query.status_group])
    if query.states:
        states = set(query.states) if states is None else states & set(query.states)
    if states is not None:
        qs = qs.filter(state__in=sorted(states))
    if query.exception_category:
        qs = qs.filter(
            Exists(
                MessageException.objects.filter(
                    message=OuterRef("pk"),
                    category=query.exception_category,
                    status=MessageException.Status.OPEN,
                )
            )
        )
    if query.created_from:
        qs = qs.filter(created__gte=query.created_from)
    if query.created_to:
        qs = qs.filter(created__lte=query.created_to)
    if query.any_id:
        from django.db.models import Q

        v = query.any_id
        qs = qs.filter(
            Q(transaction_id=v)
            | Q(correlation_id=v)
            | Q(sender_unique_reference=v)
            | Q(publication_id=v)
        )
    for path, value in query.envelope.items():
        qs = qs.filter(common_block__contains=_nest(path, value))
    return qs


@dataclass(frozen=True)
class Page:
    items: list[Message]
    next_cursor: int | None


def page(query: SearchQuery, *, after: int | None = None, size: int = 50) -> Page:
    """Keyset page: messages with ``id < after``, newest first."""
    size = max(1, min(size, MAX_PAGE))
    qs = matching(query).order_by("-id")
    if after is not None:
        qs = qs.filter(id__lt=after)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, rows[-1].pk if more and rows else None)


@dataclass(frozen=True)
class Count:
    value: int
    exact: bool


def count(query: SearchQuery, *, cap: int = EXACT_COUNT_CAP) -> Count:
    """Exact up to ``cap`` (cheap: the count stops there); beyond it, the planner's estimate,
    labelled as such."""
    qs = matching(query).order_by()
    n = qs[: cap + 1].count()
    if n <= cap:
        return Count(n, True)
    return Count(max(estimate(qs), cap + 1), False)


def estimate(qs: QuerySet[Message]) -> int:
    sql, params = qs.values("id").query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cur.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def explain(query: SearchQuery, *, size: int = 50) -> str:
    return matching(query).order_by("-id")[:size].explain()


def iter_ids(query: SearchQuery, *, below: int | None, chunk: int) -> Iterable[list[int]]:
    """Matching ids in descending chunks (for bulk actions)."""
    cursor = below
    while True:
        qs = matching(query).order_by("-id")
        if cursor is not None:
            qs = qs.filter(id__lt=cursor)
        ids = list(qs.values_list("id", flat=True)[:chunk])
        if not ids:
            return
        yield ids
        cursor = ids[-1]
