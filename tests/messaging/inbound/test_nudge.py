"""The webhook's processing nudge: a burst of callbacks shares Celery publishes (each publish
costs more CPU than a capture's own Python), yet every message id and receipt reaches a task.
Real broker (the test run's own key prefix in Redis db 1); the tasks are taken off the queue
again here, so no worker runs them."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import redis
from django.conf import settings

from messaging.inbound import nudge

QUEUE = "inbound"


def _take(schema: str) -> list[dict[str, Any]]:
    """Remove this test's ``process_messages`` tasks from the broker queue; their arguments."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "") + QUEUE
    found = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        if message.get("headers", {}).get("_schema_name") != schema:
            continue
        client.lrem(queue, 1, raw)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        found.append({"ids": args[0], "receipts": kwargs.get("receipt_ids") or []})
    return found


def _burst(schema: str, count: int) -> tuple[list[int], list[int]]:
    ids, receipts = [], []
    for i in range(count):
        batch = [i * 10 + 1, i * 10 + 2]
        nudge.nudge(schema, batch, i)
        ids += batch
        receipts.append(i)
    return ids, receipts


def test_a_burst_shares_publishes_and_loses_no_id() -> None:
    schema = f"t_nudge_{uuid.uuid4().hex[:8]}"
    nudge.flush()
    ids, receipts = _burst(schema, 40)
    nudge.flush()
    tasks = _take(schema)
    assert sorted(i for t in tasks for i in t["ids"]) == sorted(ids)
    assert sorted(r for t in tasks for r in t["receipts"]) == receipts
    assert 1 <= len(tasks) < 40, [len(t["ids"]) for t in tasks]  # not one publish per callback
