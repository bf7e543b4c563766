"""The webhook's processing nudge, published off the request thread and batched.

``nudge(schema, ids, receipt_id)`` only appends to an in-process queue (microseconds); one
daemon thread per process publishes: it takes everything queued at that moment and sends one
``process_messages`` task per schema, so the acknowledgement never waits for Redis. Publishes
are spaced at least ``MIN_INTERVAL`` apart: at low rates each nudge goes out at once (the
previous publish is long past), under load the callbacks of the last few milliseconds share one
publish — a Celery publish costs far more CPU than the capture's own Python work.

Losing a nudge (process killed between the acknowledgement and the publish, broker down) only
delays work: the sweeper re-enqueues messages still ``received`` after ``INBOUND_STALE_AFTER``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

log = logging.getLogger(__name__)

_queue: queue.SimpleQueue[tuple[str, list[int], int | None]] = queue.SimpleQueue()
_lock = threading.Lock()
_thread: threading.Thread | None = None
_pid = 0
MAX_IDS = 500  # per task
MIN_INTERVAL = 0.05  # seconds between two publishes of one process (<= 20 tasks/s each)


def nudge(schema: str, message_ids: list[int], receipt_id: int | None) -> None:
    _ensure_thread()
    _queue.put((schema, message_ids, receipt_id))


def _ensure_thread() -> None:
    global _thread, _pid
    if _thread is not None and _pid == os.getpid() and _thread.is_alive():
        return
    with _lock:  # (re)start after fork (gunicorn preload) or if it died
        if _thread is None or _pid != os.getpid() or not _thread.is_alive():
            _pid = os.getpid()
            _thread = threading.Thread(target=_run, name="inbound-nudge", daemon=True)
            _thread.start()


def _drain(first: tuple[str, list[int], int | None]) -> dict[str, tuple[list[int], list[int]]]:
    batch: dict[str, tuple[list[int], list[int]]] = {}
    item: tuple[str, list[int], int | None] | None = first
    while item is not None:
        schema, ids, receipt_id = item
        ids_of, receipts = batch.setdefault(schema, ([], []))
        ids_of.extend(ids)
        if receipt_id is not None:
            receipts.append(receipt_id)
        if len(ids_of) >= MAX_IDS:
            break
        try:
            item = _queue.get_nowait()
        except queue.Empty:
            item = None
    return batch


def _run() -> None:
    from messaging.inbound.tasks import process_messages

    last = 0.0
    while True:
        first = _queue.get()
        wait = last + MIN_INTERVAL - time.monotonic()
        if wait > 0:  # a publish just went out: let this one collect company
            time.sleep(wait)
        last = time.monotonic()
        batch = _drain(first)
        for schema, (ids, receipts) in batch.items():
            try:
                process_messages.apply_async(
                    (ids,), {"receipt_ids": receipts}, headers={"_schema_name": schema}
                )
            except Exception:  # broker down: the sweeper re-enqueues these
                log.warning("inbound: nudge for %s not published", schema, exc_info=True)


def flush(timeout: float = 5.0) -> None:
    """Wait until everything queued so far was published (tests)."""
    deadline = time.monotonic() + timeout
    while not _queue.empty() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.02 + MIN_INTERVAL)  # the batch taken last is being published
