"""Status messages (PROTOCOL.md §4.5, §5): L2 from the DIP, L3/L4 relayed from recipients.

Every status message is a ``StandardResponseBodyType`` addressed to the *original sender*
(``recipientID``) and delivered to that DIP ID's status-message webhook. Status messages are
buffered per recipient for a short window and sent as one signed callback (an array), so a
stream of L4 acknowledgements costs one signature per window, not one per message.

Simulated counterparties (registry ``simulated: true``) acknowledge deliveries in-process (sync
201) and, after their ``status_delay``, send an L4 status back: ``RCP0000 - Message Success``,
or an ``RCP1000`` rejection for a ``reject_rate`` share.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson

from dip.codes import CODES
from dip.envelope import Message
from dip.responses import DIP_SENDER_ID, StandardResponseBody, body_for
from dip.timeutil import now_timestamp
from sandbox.delivery import STATUS, Callback, DeliveryEngine
from sandbox.registry import Registry
from sandbox.store import Store


class StatusHub:
    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        engine: DeliveryEngine,
        window: float = 0.1,
        max_items: int = 500,
    ) -> None:
        self.registry, self.store, self.engine = registry, store, engine
        self.window = window
        self.max_items = max_items
        start = store.scalar("SELECT COALESCE(MAX(id), 0) FROM status_messages") or 0
        self._ids = itertools.count(int(start) + 1)
        self._buffer: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._rng = random.Random()
        self.emitted = 0
        # The wording switch (sandbox.wording): set by the Sandbox, identity by default.
        self.reword: Callable[[StandardResponseBody], StandardResponseBody] = lambda body: body

    async def start(self) -> None:
        self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    async def stop(self) -> None:
        for task in [self._flusher, *self._tasks]:
            if task is not None:
                task.cancel()
        self.flush()

    def emit(self, level: str, bodies: list[StandardResponseBody]) -> None:
        """Record status messages and queue them for each one's ``recipientID``."""
        now = time.time()
        rows = []
        for body in map(self.reword, bodies):
            recipient = body.recipientID
            if not recipient:
                continue
            sid = next(self._ids)
            raw = orjson.dumps(body.to_dict())
            entry = self.registry.get(recipient)
            state = (
                "Queued"
                if entry is not None and (entry.status_webhook or entry.simulated)
                else "Paused"
            )
            rows.append(
                (
                    sid,
                    level,
                    recipient,
                    body.senderID,
                    body.transactionID,
                    body.senderUniqueReference,
                    body.correlationID,
                    body.message,
                    raw,
                    state,
                    now,
                )
            )
            if state == "Queued":
                self._buffer[recipient].append((sid, raw))
        self.emitted += len(rows)
        self.store.write_many(
            "INSERT INTO status_messages (id, level, recipient_dip_id, sender_id, transaction_id,"
            " sender_unique_reference, correlation_id, message, body, status, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def requeue(self, recipient: str, rows: list[tuple[int, bytes]]) -> None:
        self._buffer[recipient].extend(rows)

    def flush(self) -> None:
        for recipient, items in list(self._buffer.items()):
            if not items:
                continue
            self._buffer[recipient] = []
            entry = self.registry.get(recipient)
            if entry is not None and entry.simulated:
                self.store.write_many(
                    "UPDATE status_messages SET status='Delivered' WHERE id=?",
                    ((sid,) for sid, _ in items),
                )
                continue
            for start in range(0, len(items), self.max_items):
                chunk = items[start : start + self.max_items]
                self.engine.submit(
                    Callback(
                        kind=STATUS,
                        recipient=recipient,
                        items=[raw for _, raw in chunk],
                        status_ids=[sid for sid, _ in chunk],
                    )
                )

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.window)
            if self._buffer:
                self.flush()

    # -- L2 / L3 / L4 --------------------------------------------------------------------------

    def l2(self, m: Message, transaction_id: str | None, code: str, detail: str) -> None:
        """The DIP's own asynchronous finding about an accepted message (routing ...)."""
        text = f"{code} - {CODES[code].meaning if code in CODES else detail}"
        body = body_for(m, sender_id=DIP_SENDER_ID, text=text, help=detail)
        self.emit("L2", [_with(body, transactionID=transaction_id)])

    def l3(self, cb: Callback, failures: list[StandardResponseBody]) -> None:
        """A recipient's synchronous rejection (webhook reply) relayed to the original sender."""
        sender_of = dict(zip(cb.transaction_ids, cb.senders, strict=False))
        fixed = []
        for body in failures:
            recipient = body.recipientID or sender_of.get(body.transactionID or "")
            if recipient:
                fixed.append(_with(body, recipientID=recipient))
        self.emit("L3", fixed)

    async def simulate(self, cb: Callback) -> None:
        """A simulated counterparty got ``cb`` (already acked 201): answer L4 later."""
        entry = self.registry.get(cb.recipient)
        if entry is None or cb.kind == STATUS:
            return
        task = asyncio.get_running_loop().create_task(
            self._answer(cb, entry.dip_id, entry.status_delay, entry.reject_rate)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, cb: Callback, dip_id: str, delay: float, reject_rate: float) -> None:
        await asyncio.sleep(delay)
        bodies = []
        now = now_timestamp()
        for raw in cb.items:
            m = Message(orjson.loads(raw))
            reject = reject_rate > 0 and self._rng.random() < reject_rate
            text = CODES["RCP1000" if reject else "RCP0000"].text()
            bodies.append(body_for(m, sender_id=dip_id, text=text, now=now))
        self.emit("L4", bodies)


def _with(body: StandardResponseBody, **changes: Any) -> StandardResponseBody:
    d = body.to_dict()
    d.update(changes)
    return StandardResponseBody.from_dict(d)
