"""The sandbox's own state: one SQLite file (WAL), one writer thread with batched commits.

Writes are queued (:meth:`Store.write`) and a single thread applies everything queued so far in
one transaction, so a burst of thousands of rows costs one commit. A caller that must not
acknowledge before the data is durable awaits :meth:`Store.commit` (group commit: it resolves
once the transaction holding its rows is committed). Reads use a per-thread connection and see
committed data only; :meth:`Store.flush` waits for everything queued so far.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    transaction_id TEXT PRIMARY KEY,
    interface_id TEXT NOT NULL,
    event_code TEXT,
    schema_version TEXT,
    sender_dip_id TEXT NOT NULL,
    sender_unique_reference TEXT NOT NULL,
    dcp_dip_id TEXT,
    mpan_core TEXT,
    correlation_id TEXT,
    transaction_timestamp TEXT NOT NULL,
    received_at REAL NOT NULL,
    origin TEXT NOT NULL,            -- "send" (Send API) or "scenario:<name>"
    item BLOB NOT NULL               -- the stamped ("as delivered") array element, JSON
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_sur ON messages(sender_dip_id, sender_unique_reference);
CREATE INDEX IF NOT EXISTS messages_received ON messages(received_at);
CREATE TABLE IF NOT EXISTS deliveries (
    transaction_id TEXT NOT NULL,
    recipient_dip_id TEXT NOT NULL,
    interface_id TEXT NOT NULL,
    status TEXT NOT NULL,            -- journal Outbound values: Delivered, Retrying, ...
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    replays INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (transaction_id, recipient_dip_id)
);
CREATE INDEX IF NOT EXISTS deliveries_recipient ON deliveries(recipient_dip_id, interface_id);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id TEXT NOT NULL,
    kind TEXT NOT NULL,              -- publication | status
    recipient_dip_id TEXT NOT NULL,
    url TEXT,
    messages INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms REAL,
    error TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_recipient ON attempts(recipient_dip_id, at);
CREATE TABLE IF NOT EXISTS status_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    level TEXT NOT NULL,             -- L2 | L3 | L4
    recipient_dip_id TEXT NOT NULL,  -- whose status webhook receives it (original sender)
    sender_id TEXT NOT NULL,
    transaction_id TEXT,
    sender_unique_reference TEXT,
    correlation_id TEXT,
    message TEXT,
    body BLOB NOT NULL,              -- one StandardResponseBodyType, JSON
    status TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS status_recipient ON status_messages(recipient_dip_id, created_at);
CREATE TABLE IF NOT EXISTS rejections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    interface_id TEXT,
    principal TEXT,
    http_status INTEGER NOT NULL,
    code TEXT,
    detail TEXT,
    at REAL NOT NULL
);
"""

_STOP = object()


class _Op:
    __slots__ = ("many", "params", "sql")

    def __init__(self, sql: str, params: Sequence[Any] | Iterable[Sequence[Any]], many: bool):
        self.sql, self.params, self.many = sql, params, many


class Store:
    def __init__(self, path: Path | str, *, max_batch: int = 20_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local = threading.local()
        conn = self._connect()
        conn.executescript(SCHEMA)
        conn.commit()
        self._writer_conn = conn
        self._thread = threading.Thread(target=self._run, name="sandbox-store", daemon=True)
        self._started = False
        self.commits = 0

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.row_factory = sqlite3.Row
        return conn

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def close(self) -> None:
        if self._started:
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
            self._started = False
        self._writer_conn.close()

    # -- writing -------------------------------------------------------------------------------

    def write(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._queue.put(_Op(sql, params, False))

    def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self._queue.put(_Op(sql, rows, True))

    async def commit(self) -> None:
        """Wait until everything queued before this call is committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._queue.put((loop, fut))
        await fut

    flush = commit

    def commit_sync(self, timeout: float = 10.0) -> None:
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _run(self) -> None:
        conn = self._writer_conn
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = False
            waiters: list[Any] = []
            conn.execute("BEGIN")
            for op in batch:
                if op is _STOP:
                    stop = True
                elif isinstance(op, _Op):
                    try:
                        if op.many:
                            conn.executemany(op.sql, op.params)
                        else:
                            conn.execute(op.sql, op.params)  # type: ignore[arg-type]
                    except sqlite3.Error as exc:  # one bad write must not lose the batch
                        print(f"sandbox store: {exc} in {op.sql[:60]!r}", flush=True)
                else:
                    waiters.append(op)
            conn.execute("COMMIT")
            self.commits += 1
            for w in waiters:
                if isinstance(w, threading.Event):
                    w.set()
                else:
                    loop, fut = w
                    loop.call_soon_threadsafe(_resolve, fut)
            if stop:
                return

    # -- reading -------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._reader().execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self._reader().execute(sql, params).fetchone()
        return row[0] if row else None

    def known_surs(self) -> set[tuple[str, str]]:
        rows = self.query("SELECT sender_dip_id, sender_unique_reference FROM messages")
        return {(r[0], r[1]) for r in rows}


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def now() -> float:
    return time.time()
