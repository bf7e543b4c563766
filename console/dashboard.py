"""Dashboard reads: volumes per interface and hour, success/failure rates, acknowledgement and
L4 latency against the DIP response-time rules, backlog and quiet channels.

Latency comes from Transition timestamps of outbound messages: received→accepted is the
acknowledgement (the DIP's synchronous answer to our send), accepted→settled the L4 response
(a status that settled it; a message settled by silence, "no issue reported", got no response
and is left out: its "latency" would only be the status window).
Each hour is judged against the rules' band for its volume (normal up to the average hourly
volume, peak above it): mean and 90th percentile, as the DIP rules state them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from messaging.models import ExceptionCategory, Message, MessageException
from messaging.outbound.services.status import NO_ISSUE_REPORTED
from messaging.states import FAILURE_STATES, SUCCESS_STATES, Direction, State

# DIP response-time rules (seconds), per hour: (mean limit, 90th percentile limit), "normal" up
# to the average hourly volume (2,750 messages/hour), "peak" from there to 35,000/hour.
AVERAGE_HOURLY_VOLUME = 2750
THRESHOLDS: dict[str, dict[str, tuple[float, float]]] = {
    "ack": {"normal": (2.0, 4.0), "peak": (5.0, 8.0)},  # initial synchronous response
    "l4": {"normal": (6.0, 12.0), "peak": (10.0, 16.0)},  # asynchronous (L4) response
}
PENDING = (State.RECEIVED, State.VALIDATED, State.QUEUED, State.SENT)
_PAIRS = {"ack": ("received", "accepted"), "l4": ("accepted", "settled")}


@dataclass(frozen=True)
class Latency:
    """One interface, one hour, one kind of response, judged against its band's limits."""

    interface_id: str
    kind: str  # "ack" or "l4"
    hour: datetime
    count: int
    band: str  # "normal" or "peak"
    mean: float
    p90: float
    max: float
    mean_limit: float
    p90_limit: float

    @property
    def compliant(self) -> bool:
        return self.mean <= self.mean_limit and self.p90 <= self.p90_limit

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "hour": self.hour.isoformat(), "compliant": self.compliant}


def latencies(*, since: datetime, interface_id: str = "") -> list[Latency]:
    out: list[Latency] = []
    with connection.cursor() as cur:
        for kind, (start, end) in _PAIRS.items():
            cur.execute(
                """
                SELECT m.interface_id, date_trunc('hour', x.at), count(*), avg(x.d),
                       percentile_cont(0.9) WITHIN GROUP (ORDER BY x.d), max(x.d)
                FROM (
                    SELECT e.message_id, e.at, EXTRACT(EPOCH FROM e.at - s.at) AS d
                    FROM messaging_transition e
                    JOIN LATERAL (
                        SELECT at FROM messaging_transition s
                        WHERE s.message_id = e.message_id AND s.to_state = %s
                        ORDER BY s.id DESC LIMIT 1
                    ) s ON true
                    WHERE e.to_state = %s AND e.at >= %s AND e.reason <> %s
                ) x JOIN messaging_message m ON m.id = x.message_id
                WHERE m.direction = 'outbound' AND (%s = '' OR m.interface_id = %s)
                GROUP BY 1, 2 ORDER BY 1, 2
                """,
                [start, end, since, NO_ISSUE_REPORTED, interface_id, interface_id],
            )
            for iface, hour, n, mean, p90, mx in cur.fetchall():
                band = "normal" if n <= AVERAGE_HOURLY_VOLUME else "peak"
                mean_limit, p90_limit = THRESHOLDS[kind][band]
                out.append(
                    Latency(
                        iface,
                        kind,
                        hour,
                        n,
                        band,
                        float(mean),
                        float(p90),
                        float(mx),
                        mean_limit,
                        p90_limit,
                    )
                )
    return out


def hourly_volumes(*, since: datetime) -> dict[str, Any]:
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT date_trunc('hour', created) AS h, interface_id, count(*)
            FROM messaging_message WHERE created >= %s
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            [since],
        )
        rows = cur.fetchall()
    hours = sorted({r[0] for r in rows})
    interfaces = sorted({r[1] for r in rows})
    grid = {i: [0] * len(hours) for i in interfaces}
    index = {h: n for n, h in enumerate(hours)}
    for h, iface, n in rows:
        grid[iface][index[h]] = n
    return {
        "hours": [h.isoformat() for h in hours],
        "series": [{"interface_id": i, "counts": grid[i]} for i in interfaces],
    }


def rates(*, since: datetime) -> list[dict[str, Any]]:
    rows = (
        Message.objects.filter(created__gte=since)
        .values("interface_id", "direction", "state")
        .annotate(n=Count("id"))
    )
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["interface_id"], r["direction"])
        item = acc.setdefault(
            key,
            {"interface_id": key[0], "direction": key[1], "total": 0, "success": 0, "failure": 0},
        )
        item["total"] += r["n"]
        if r["state"] in SUCCESS_STATES:
            item["success"] += r["n"]
        elif r["state"] in FAILURE_STATES:
            item["failure"] += r["n"]
    for item in acc.values():
        item["failure_rate"] = round(item["failure"] / item["total"], 4) if item["total"] else 0
    return sorted(acc.values(), key=lambda i: (i["interface_id"], i["direction"]))


def backlog() -> dict[str, Any]:
    rows = (
        Message.objects.filter(state__in=PENDING)
        .values("direction", "state")
        .annotate(n=Count("id"), oldest=Max("id"))
    )
    oldest = Message.objects.filter(state__in=PENDING).order_by("id").values("created").first()
    return {
        "by_state": [
            {"direction": r["direction"], "state": r["state"], "count": r["n"]} for r in rows
        ],
        "oldest_pending": oldest["created"] if oldest else None,
        "open_exceptions": MessageException.objects.filter(
            status=MessageException.Status.OPEN
        ).count(),
    }


def duplicates(*, since: datetime) -> dict[str, int]:
    """Inbound duplicates in the window (docs/inbound.md "Duplicates"): repeated sender
    references (rejected with RCP1006, not delivered), suspected content duplicates (flagged)
    and how many of those the tenant's policy held back."""
    inbound = Message.objects.filter(
        direction=Direction.INBOUND, created__gte=since, duplicate_of__isnull=False
    )
    found = MessageException.objects.filter(
        opened_at__gte=since,
        category__in=[ExceptionCategory.DUPLICATE, ExceptionCategory.SUSPECTED_DUPLICATE],
        message__direction=Direction.INBOUND,
    )
    return {
        "reference": found.filter(
            category=ExceptionCategory.DUPLICATE, details__kind="reference"
        ).count(),
        "suspected": found.filter(category=ExceptionCategory.SUSPECTED_DUPLICATE).count(),
        "held": inbound.filter(
            withheld=True, exceptions__category=ExceptionCategory.SUSPECTED_DUPLICATE
        )
        .distinct()
        .count(),
    }


def quiet_channels(
    *, quiet_for: timedelta = timedelta(hours=6), lookback_days: int = 7
) -> list[dict[str, Any]]:
    """Interface/direction pairs with traffic in the look-back window but none recently."""
    now = timezone.now()
    rows = (
        Message.objects.filter(created__gte=now - timedelta(days=lookback_days))
        .values("interface_id", "direction")
        .annotate(last=Max("created"))
    )
    return [
        {"interface_id": r["interface_id"], "direction": r["direction"], "last": r["last"]}
        for r in rows
        if r["last"] < now - quiet_for
    ]


def summary(*, hours: int = 24) -> dict[str, Any]:
    since = timezone.now() - timedelta(hours=hours)
    return {
        "since": since,
        "volumes": hourly_volumes(since=since),
        "rates": rates(since=since),
        "latency": [lat.as_dict() for lat in latencies(since=since)],
        "backlog": backlog(),
        "duplicates": duplicates(since=since),
        "quiet_channels": quiet_channels(),
        "directions": Direction.values,
    }
