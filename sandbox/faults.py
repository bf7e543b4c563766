"""Fault injection: make the sandbox DIP misbehave on purpose, globally or per DIP ID.

A :class:`Fault` applies to one *side*:

* ``send`` - the DIP's own API (Send API, status messages, pubconfig, replay ...), filtered by
  the caller's DIP ID (the API key's owner). Kinds: ``delay`` (seconds), ``error`` (answer
  ``status`` with probability ``rate``), ``drop`` (close the connection mid-response with
  probability ``rate``), ``down`` (answer 503 to everything: "DIP down for N minutes").
  Send API only: ``drop_after`` (process the batch - accepted, stored, routed - then drop the
  connection instead of answering: a lost response), ``reject_batch`` (refuse a batch that
  would have been accepted, whole, with a 400 and per-item codes: ``code`` for one item chosen
  at random if given, the generic ``MSG1000`` for every other item; nothing stored).
* ``delivery`` - callbacks the DIP makes to webhooks, filtered by the recipient DIP ID. Kinds:
  ``delay``, ``drop`` (the attempt fails as a connection error with probability ``rate`` and
  is retried), ``expired_cert`` (sign with an expired certificate), ``untrusted_cert`` (sign
  with a certificate from a CA nobody trusts), ``clock_skew`` (signature date off by
  ``seconds``), ``down`` (deliveries pause until the fault ends).

Every fault may expire (``duration`` seconds from creation; ``down`` faults usually do) and may
be limited to its first ``times`` hits (e.g. drop the next two callbacks).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from dip.codes import CODE_RE

SIDES = ("send", "delivery")
KINDS = {
    "send": ("delay", "error", "drop", "down", "drop_after", "reject_batch"),
    "delivery": ("delay", "drop", "expired_cert", "untrusted_cert", "clock_skew", "down"),
}


class FaultError(ValueError):
    pass


@dataclass
class Fault:
    id: str
    side: str
    kind: str
    dip_id: str | None = None  # None = every caller / recipient
    rate: float = 1.0
    status: int = 500
    seconds: float = 0.0  # delay seconds, or clock skew seconds (may be negative)
    expires_at: float | None = None
    times: int | None = None  # hits left; None = unlimited
    code: str | None = None  # reject_batch: the item-specific code for one item
    retry_after: int = 5  # error/down with status 503: the Retry-After header, seconds
    created_at: float = field(default_factory=time.time)

    def active(self, now: float) -> bool:
        return (self.expires_at is None or now < self.expires_at) and self.times != 0

    def matches(self, side: str, dip_id: str | None, now: float) -> bool:
        return (
            self.side == side
            and self.active(now)
            and (self.dip_id is None or self.dip_id == dip_id)
        )

    def to_dict(self) -> dict[str, Any]:
        remaining = None if self.expires_at is None else max(0.0, self.expires_at - time.time())
        return {
            "id": self.id,
            "side": self.side,
            "kind": self.kind,
            "dip_id": self.dip_id,
            "rate": self.rate,
            "status": self.status,
            "seconds": self.seconds,
            "remaining_seconds": remaining,
            "times": self.times,
            "code": self.code,
            "retry_after": self.retry_after,
        }


@dataclass(frozen=True)
class DeliveryEffects:
    delay: float = 0.0
    drop: bool = False
    cert: str = "good"  # good | expired | untrusted
    skew: float = 0.0
    down_until: float | None = None


@dataclass(frozen=True)
class SendEffects:
    delay: float = 0.0
    status: int | None = None  # answer this instead of processing
    drop: bool = False
    retry_after: int = 5  # seconds, sent with a 503 (a fault's ``retry_after`` overrides)


@dataclass(frozen=True)
class ProcessingEffects:
    """Send API faults decided once the batch is validated (see ``for_processing``)."""

    reject: bool = False  # refuse the batch whole (400, per-item codes)
    code: str | None = None  # ... with this code for one item, MSG1000 for the others
    drop_after: bool = False  # process it, then drop the connection


class Faults:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Fault:
        side = str(spec.get("side", "delivery"))
        kind = str(spec.get("kind", ""))
        if side not in SIDES:
            raise FaultError(f"side must be one of {SIDES}")
        if kind not in KINDS[side]:
            raise FaultError(f"kind for side {side!r} must be one of {KINDS[side]}")
        duration = spec.get("duration")
        minutes = spec.get("minutes")
        if minutes is not None:
            duration = float(minutes) * 60
        rate = float(spec.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise FaultError("rate must be between 0 and 1")
        status = int(spec.get("status", 503 if kind == "down" else 500))
        code = str(spec["code"]) if spec.get("code") else None
        if code is not None and not CODE_RE.fullmatch(code):
            raise FaultError("code must be a response code such as MSG1007")
        if not 100 <= status <= 599:
            raise FaultError("status must be an HTTP status code")
        with self._lock:
            fault = Fault(
                id=f"F{next(self._ids)}",
                side=side,
                kind=kind,
                dip_id=str(spec["dip_id"]) if spec.get("dip_id") else None,
                rate=rate,
                status=status,
                seconds=float(spec.get("seconds", 0.0)),
                expires_at=time.time() + float(duration) if duration is not None else None,
                times=int(spec["times"]) if spec.get("times") is not None else None,
                code=code,
                retry_after=int(spec.get("retry_after", 5)),
            )
            self._faults[fault.id] = fault
        return fault

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            return self._faults.pop(fault_id, None) is not None

    def clear(self) -> int:
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
        return n

    def active(self) -> list[Fault]:
        now = time.time()
        with self._lock:
            for fid in [f.id for f in self._faults.values() if not f.active(now)]:
                del self._faults[fid]
            return list(self._faults.values())

    def _matching(self, side: str, dip_id: str | None) -> list[Fault]:
        if not self._faults:
            return []
        now = time.time()
        return [f for f in list(self._faults.values()) if f.matches(side, dip_id, now)]

    def _hit(self, fault: Fault) -> bool:
        hit = fault.rate >= 1.0 or self._rng.random() < fault.rate
        if hit and fault.times is not None:
            with self._lock:
                fault.times = max(0, fault.times - 1)
        return hit

    def for_send(self, dip_id: str | None) -> SendEffects:
        faults = self._matching("send", dip_id)
        if not faults:
            return SendEffects()
        delay, status, drop, retry_after = 0.0, None, False, 5
        for f in faults:
            if f.kind == "delay" and self._hit(f):
                delay += f.seconds
            elif f.kind == "down":
                status, retry_after = 503, f.retry_after
            elif f.kind == "error" and status is None and self._hit(f):
                status, retry_after = f.status, f.retry_after
            elif f.kind == "drop" and self._hit(f):
                drop = True
        return SendEffects(delay, status, drop, retry_after)

    def for_processing(self, dip_id: str | None) -> ProcessingEffects:
        """``reject_batch`` and ``drop_after`` for a batch that passed validation."""
        reject, code, drop_after = False, None, False
        for f in self._matching("send", dip_id):
            if f.kind == "reject_batch" and not reject and self._hit(f):
                reject, code = True, f.code
            elif f.kind == "drop_after" and not drop_after and self._hit(f):
                drop_after = True
        if reject:
            drop_after = False
        return ProcessingEffects(reject, code, drop_after)

    def pick(self, n: int) -> int:
        with self._lock:
            return self._rng.randrange(n)

    def for_delivery(self, dip_id: str | None) -> DeliveryEffects:
        faults = self._matching("delivery", dip_id)
        if not faults:
            return DeliveryEffects()
        delay, drop, cert, skew = 0.0, False, "good", 0.0
        down_until: float | None = None
        for f in faults:
            if f.kind == "delay" and self._hit(f):
                delay += f.seconds
            elif f.kind == "drop" and self._hit(f):
                drop = True
            elif f.kind == "expired_cert" and self._hit(f):
                cert = "expired"
            elif f.kind == "untrusted_cert" and self._hit(f):
                cert = "untrusted"
            elif f.kind == "clock_skew" and self._hit(f):
                skew += f.seconds
            elif f.kind == "down":
                until = f.expires_at if f.expires_at is not None else time.time() + 3600
                down_until = max(down_until or 0.0, until)
        return DeliveryEffects(delay, drop, cert, skew, down_until)
