"""The outbound pipeline's settings, read once per call site (tests override settings)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from dip.backoff import RetryPolicy

_INTERFACE = re.compile(r"(IF|REP)-\d{3}[A-Z]?")


@dataclass(frozen=True)
class OutboundSettings:
    batch_size: int
    unbatched: frozenset[str]
    ordered: frozenset[str]
    tenant_concurrency: int
    dip_id_concurrency: int
    lease_seconds: float
    loop_seconds: float
    retry: RetryPolicy
    status_window: float
    status_windows: dict[str, float]
    give_up_after: float = 7 * 24 * 3600.0
    outage_after_failures: int = 10
    outage_after_seconds: float = 60.0
    probe_interval: float = 60.0
    drain_rate: float = 200.0
    generic_reject_limit: int = 5

    def is_ordered(self, interface_id: str, mpan_core: str) -> bool:
        return bool(mpan_core) and ("*" in self.ordered or interface_id in self.ordered)

    def batch_size_for(self, interface_id: str) -> int:
        return 1 if interface_id in self.unbatched else self.batch_size

    def status_window_for(self, interface_id: str) -> float:
        """Seconds a message of ``interface_id`` waits for a status after the DIP accepted it
        before it settles "no issue reported" (docs/outbound.md, status semantics)."""
        return self.status_windows.get(interface_id, self.status_window)


def outbound_settings() -> OutboundSettings:
    o: dict[str, Any] = settings.OUTBOUND
    return OutboundSettings(
        batch_size=int(o["BATCH_SIZE"]),
        unbatched=frozenset(o["UNBATCHED_INTERFACES"]),
        ordered=frozenset(o["ORDERED_INTERFACES"]),
        tenant_concurrency=int(o["TENANT_CONCURRENCY"]),
        dip_id_concurrency=int(o["DIP_ID_CONCURRENCY"]),
        lease_seconds=float(o["LEASE_SECONDS"]),
        loop_seconds=float(o["LOOP_SECONDS"]),
        # Back-off only: whether to give up is decided by time (GIVE_UP_AFTER), not attempts.
        retry=RetryPolicy(
            max_attempts=2**31,
            base_delay=float(o["RETRY_BASE_DELAY"]),
            max_delay=float(o["RETRY_MAX_DELAY"]),
            max_total_wait=float(o["GIVE_UP_AFTER"]),
            max_retry_after=float(o["GIVE_UP_AFTER"]),
        ),
        status_window=_seconds("DCP_OUTBOUND_STATUS_WINDOW", o["STATUS_WINDOW_SECONDS"]),
        status_windows=parse_status_windows(o.get("STATUS_WINDOWS") or ""),
        give_up_after=float(o["GIVE_UP_AFTER"]),
        outage_after_failures=int(o["OUTAGE_AFTER_FAILURES"]),
        outage_after_seconds=float(o["OUTAGE_AFTER_SECONDS"]),
        probe_interval=float(o["PROBE_INTERVAL"]),
        drain_rate=float(o["DRAIN_RATE"]),
        generic_reject_limit=int(o["GENERIC_REJECT_LIMIT"]),
    )


def _seconds(name: str, value: Any) -> float:
    seconds = float(value)
    if not 0 < seconds <= 7 * 24 * 3600:
        raise ImproperlyConfigured(f"{name}: {value!r} is not between 0 s and 7 days")
    return seconds


def parse_status_windows(spec: str | dict[str, Any]) -> dict[str, float]:
    """``"IF-031=300,IF-033=600"`` (or a dict) → {interface: seconds}; a malformed entry is a
    configuration error naming it, never a silent default."""
    if isinstance(spec, dict):
        pairs = [(str(k), v) for k, v in spec.items()]
    else:
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        pairs = [(p.partition("=")[0], p.partition("=")[2]) for p in parts]
    out: dict[str, float] = {}
    for interface_id, seconds in pairs:
        name = interface_id.strip().upper()
        if not _INTERFACE.fullmatch(name):
            raise ImproperlyConfigured(
                f"DCP_OUTBOUND_STATUS_WINDOWS: {interface_id!r} is not an interface ID (IF-nnn)"
            )
        try:
            out[name] = _seconds(f"DCP_OUTBOUND_STATUS_WINDOWS[{name}]", seconds)
        except ValueError:
            raise ImproperlyConfigured(
                f"DCP_OUTBOUND_STATUS_WINDOWS[{name}]: {seconds!r} is not a number of seconds"
            ) from None
    return out


def base_url(environment: str) -> str:
    urls: dict[str, str] = settings.DIP_BASE_URLS
    return urls[environment]
