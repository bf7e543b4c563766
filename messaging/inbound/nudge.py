"""The webhook's processing nudge, published off the request thread and batched.

``nudge(schema, ids, receipt_id)`` only appends to an in-process queue (microseconds); one
daemon thread per process publishes: it takes everything queued at that moment and sends one
``process_messages`` task per schema, so under load many callbacks share one Celery publish and
the acknowledgement never waits for Redis. At low rates each nudge goes out at once.

Losing a nudge (process killed between the acknowledgement and the publish, broker down) only
delays work: the sweeper re-enqueues messages still ``received`` after ``INBOUND_STALE_AFTER``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading

log = logging.getLogger(__name__)

_queue: queue.SimpleQueue[tuple[str, list[int], int | None]] = queue.SimpleQueue()
_lock = threading.Lock()
_thread: threading.Thread | None = None
_pid = 0
MAX_IDS = 500  # per task


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

    while True:
        batch = _drain(_queue.get())
        for schema, (ids, receipts) in batch.items():
            try:
                process_messages.apply_async(
                    (ids,), {"receipt_ids": receipts}, headers={"_schema_name": schema}
                )
            except Exception:  # broker down: the sweeper re-enqueues these
                log.warning("inbound: nudge for %s not published", schema, exc_info=True)


def flush(timeout: float = 5.0) -> None:
    """Wait until everything queued so far was published (tests)."""
    import time

    deadline = time.monotonic() + timeout
    while not _queue.empty() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.02)  # the batch taken last is being published
