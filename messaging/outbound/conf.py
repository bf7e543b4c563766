"""The outbound pipeline's settings, read once per call site (tests override settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from dip.backoff import RetryPolicy


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
    status_timeout: float

    def is_ordered(self, interface_id: str, mpan_core: str) -> bool:
        return bool(mpan_core) and ("*" in self.ordered or interface_id in self.ordered)

    def batch_size_for(self, interface_id: str) -> int:
        return 1 if interface_id in self.unbatched else self.batch_size


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
        retry=RetryPolicy(
            max_attempts=int(o["RETRY_MAX_ATTEMPTS"]),
            base_delay=float(o["RETRY_BASE_DELAY"]),
            max_delay=float(o["RETRY_MAX_DELAY"]),
            max_total_wait=float(o["RETRY_MAX_WAIT"]),
            max_retry_after=float(o["RETRY_MAX_WAIT"]),
        ),
        status_timeout=float(o["STATUS_TIMEOUT_SECONDS"]),
    )


def base_url(environment: str) -> str:
    urls: dict[str, str] = settings.DIP_BASE_URLS
    return urls[environment]
