"""Reads of the outbound pipeline for pages, the client API and other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q

from messaging.outbound.models import DipAvailability, OutboxEntry


@dataclass(frozen=True)
class Availability:
    """What a client is told about the DIP of one environment."""

    environment: str
    available: bool
    unavailable_since: datetime | None
    draining: bool
    recovered_at: datetime | None
    last_probe_at: datetime | None
    next_probe_at: datetime | None
    last_error: str
    queued: int  # this tenant's messages waiting to reach the DIP
    oldest_queued_at: datetime | None

    @property
    def summary(self) -> str:
        if not self.available and self.unavailable_since is not None:
            return f"DIP unavailable since {self.unavailable_since:%Y-%m-%d %H:%M:%S} UTC"
        if self.draining:
            return "DIP available again: sending the backlog"
        return "DIP available"


def availability(environment: str | None = None) -> list[Availability]:
    """Per environment the tenant has sent to (or has queued for): the DIP's state and the
    backlog. An environment never seen failing is simply available."""
    rows = {r.environment: r for r in DipAvailability.objects.all()}
    backlog = {
        r["environment"]: r
        for r in OutboxEntry.objects.filter(pending=True)
        .values("environment")
        .annotate(n=Count("message_id"), oldest=Min("queued_at"))
    }
    envs = sorted(set(rows) | set(backlog))
    if environment:
        envs = [e for e in envs if e == environment] or [environment]
    out = []
    for env in envs:
        row = rows.get(env)
        queued: dict[str, Any] = dict(backlog.get(env) or {})
        out.append(
            Availability(
                environment=env,
                available=row.available if row else True,
                unavailable_since=row.unavailable_since if row else None,
                draining=row.draining if row else False,
                recovered_at=row.recovered_at if row else None,
                last_probe_at=row.last_probe_at if row else None,
                next_probe_at=row.next_probe_at if row else None,
                last_error=row.last_error if row else "",
                queued=int(queued.get("n", 0)),
                oldest_queued_at=queued.get("oldest"),
            )
        )
    return out


def outages() -> list[DipAvailability]:
    """Environments whose DIP is unavailable now (for the banner on every page)."""
    return list(DipAvailability.objects.filter(Q(available=False)).order_by("environment"))
