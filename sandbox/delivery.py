"""Signed webhook callbacks with the DIP's retry rules (PROTOCOL.md §4.2-§4.5).

One shared ``httpx.AsyncClient`` (large pool) carries every callback; a semaphore per recipient
bounds concurrency towards one participant. A :class:`Callback` is one POST: an array of
messages (publications) or status messages for one recipient, signed once with the sandbox's
identity over the callback URL exactly as registered. Retries on 408/429/5xx and connection
errors with :class:`dip.backoff.RetryPolicy` (full jitter, ``Retry-After`` honoured), never on
other statuses. Every attempt becomes an ``attempts`` row; the outcome updates the
``deliveries``/``status_messages`` rows (journal values: Delivered, RejectedByRecipient,
RetriesExhausted, Paused ...).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from dip.backoff import RetryPolicy, parse_retry_after
from dip.responses import StandardResponseBody, parse_standard_response
from dip.signing import SigningIdentity, sign_request
from sandbox.faults import DeliveryEffects, Faults
from sandbox.identity import SandboxPki
from sandbox.registry import Registry
from sandbox.store import Store

PUBLICATION = "publication"
STATUS = "status"
_ids = itertools.count(1)


@dataclass
class Callback:
    kind: str  # publication | status
    recipient: str
    items: list[bytes]  # serialised array elements, in order
    interface_id: str | None = None  # publications
    transaction_ids: list[str] = field(default_factory=list)  # publications, aligned with items
    senders: list[str] = field(default_factory=list)  # original senders, aligned with items
    status_ids: list[int] = field(default_factory=list)  # status messages
    perturb: str | None = None  # scenario drills: "bad_signature"
    id: str = field(default_factory=lambda: f"CB{next(_ids)}")

    @property
    def body(self) -> bytes:
        return b"[" + b",".join(self.items) + b"]"


L3Relay = Callable[[Callback, list[StandardResponseBody]], None]
Simulate = Callable[[Callback], Awaitable[None]]


class DeliveryEngine:
    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        faults: Faults,
        pki: SandboxPki,
        policy: RetryPolicy,
        per_recipient: int = 16,
        timeout: float = 10.0,
        max_connections: int = 512,
        verify_tls: bool | str = False,
    ) -> None:
        self.registry, self.store, self.faults, self.pki = registry, store, faults, pki
        self.policy = policy
        self.per_recipient = per_recipient
        self._timeout = timeout
        self._max_connections = max_connections
        self._verify = verify_tls
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[str]] = set()
        self._rng = random.Random()
        self.client: httpx.AsyncClient | None = None
        self.on_l3: L3Relay | None = None
        self.simulate: Simulate | None = None
        self.delivered_messages = 0
        self.callbacks_sent = 0

    async def start(self) -> None:
        limits = httpx.Limits(
            max_connections=self._max_connections, max_keepalive_connections=self._max_connections
        )
        self.client = httpx.AsyncClient(
            limits=limits, timeout=httpx.Timeout(self._timeout), verify=self._verify
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, cb: Callback) -> asyncio.Task[str]:
        """Start delivering ``cb``; the task's result is the final state (``Delivered`` ...)."""
        task = asyncio.get_running_loop().create_task(self._deliver(cb))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not self._tasks

    def _sem(self, recipient: str) -> asyncio.Semaphore:
        sem = self._sems.get(recipient)
        if sem is None:
            sem = self._sems[recipient] = asyncio.Semaphore(self.per_recipient)
        return sem

    # -- one callback, with retries ------------------------------------------------------------

    async def _deliver(self, cb: Callback) -> str:
        entry = self.registry.get(cb.recipient)
        if entry is not None and entry.simulated and self.simulate is not None:
            self._record_attempt(cb, None, 1, 201, 0.0, None)
            self._finish(cb, "Delivered", 201, 1)
            await self.simulate(cb)
            return "Delivered"
        url = None
        if entry is not None:
            url = (
                entry.status_webhook
                if cb.kind == STATUS
                else entry.webhook_for(cb.interface_id or "")
            )
        if not url:
            self._record_attempt(cb, None, 0, None, 0.0, "no webhook registered")
            self._finish(cb, "Paused", None, 0)
            return "Paused"
        body = cb.body
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            effects = self.faults.for_delivery(cb.recipient)
            if effects.down_until is not None:
                await asyncio.sleep(max(0.05, min(1.0, effects.down_until - time.time())))
                attempt -= 1
                continue
            if effects.delay:
                await asyncio.sleep(effects.delay)
            started = time.perf_counter()
            async with self._sem(cb.recipient):
                status, error, content, retry_after = await self._post(url, body, cb, effects)
            latency = (time.perf_counter() - started) * 1000
            self._record_attempt(cb, url, attempt, status, latency, error)
            if status is not None and 200 <= status < 300:
                self._finish(cb, "Delivered", status, attempt)
                self.delivered_messages += len(cb.items)
                if status == 207:
                    self._relay_l3(cb, content)
                return "Delivered"
            if status is None or self.policy.is_retryable(status):
                delay = self.policy.next_delay(
                    attempt=attempt, waited=waited, rng=self._rng, retry_after=retry_after
                )
                if delay is None:
                    self._finish(cb, "RetriesExhausted", status, attempt)
                    return "RetriesExhausted"
                self._finish(cb, "Retrying", status, attempt)
                await asyncio.sleep(delay)
                waited += delay
                continue
            self._finish(cb, "RejectedByRecipient", status, attempt)
            self._relay_l3(cb, content)
            return "RejectedByRecipient"

    def _identity(self, cb: Callback, cert: str) -> SigningIdentity:
        if cb.perturb == "bad_signature" or cert == "untrusted":
            return self.pki.rogue
        return self.pki.expired if cert == "expired" else self.pki.signing

    async def _post(
        self, url: str, body: bytes, cb: Callback, effects: DeliveryEffects
    ) -> tuple[int | None, str | None, bytes, float | None]:
        assert self.client is not None
        if effects.drop:
            return None, "connection dropped (fault injection)", b"", None
        signed_at = datetime.now(UTC) + timedelta(seconds=effects.skew)
        headers = sign_request(
            method="POST",
            url=url,
            body=body,
            identity=self._identity(cb, effects.cert),
            now=signed_at,
        )
        headers["Content-Type"] = "application/json"
        mpid = self.registry.mpid_of(cb.recipient)
        if mpid:
            headers["X-DIP-MPO"] = mpid
        self.callbacks_sent += 1
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return None, f"timeout: {type(exc).__name__}", b"", None
        except httpx.HTTPError as exc:
            return None, f"transport: {type(exc).__name__}: {exc}"[:300], b"", None
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return response.status_code, None, response.content, retry_after

    # -- bookkeeping ---------------------------------------------------------------------------

    def _record_attempt(
        self,
        cb: Callback,
        url: str | None,
        attempt: int,
        status: int | None,
        latency_ms: float,
        error: str | None,
    ) -> None:
        self.store.write(
            "INSERT INTO attempts (callback_id, kind, recipient_dip_id, url, messages, attempt,"
            " status_code, latency_ms, error, at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                cb.id,
                cb.kind,
                cb.recipient,
                url,
                len(cb.items),
                attempt,
                status,
                latency_ms,
                error,
                time.time(),
            ),
        )

    def _finish(self, cb: Callback, state: str, status: int | None, attempts: int) -> None:
        now = time.time()
        if cb.kind == PUBLICATION:
            self.store.write_many(
                "UPDATE deliveries SET status=?, attempts=?, last_status_code=?, updated_at=?"
                " WHERE transaction_id=? AND recipient_dip_id=?",
                ((state, attempts, status, now, txn, cb.recipient) for txn in cb.transaction_ids),
            )
        else:
            self.store.write_many(
                "UPDATE status_messages SET status=? WHERE id=?",
                ((state, sid) for sid in cb.status_ids),
            )

    def _relay_l3(self, cb: Callback, content: bytes) -> None:
        if cb.kind != PUBLICATION or self.on_l3 is None or not content:
            return
        reply, _ = parse_standard_response(content)
        if reply is None:
            return
        failures = [b for b in reply.messageArray if not b.is_success]
        if failures:
            self.on_l3(cb, failures)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_retry_after(value, now=datetime.now(UTC))
    except (TypeError, ValueError):  # pragma: no cover - parse_retry_after never raises
        return None
