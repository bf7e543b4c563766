"""Outbound fault drill: real processes on loopback, a worker killed and the broker wiped mid-run,
and nothing lost or sent twice.

    .venv/bin/python scripts/drill_outbound.py [--messages N]

Brings up (``bench.outbound_env``) a dedicated database ``opendcp_drill`` (dropped at the end),
the DIP sandbox, gunicorn, a Celery worker and beat, all on Redis db 7 (only this drill uses
it). Submits N messages through the client API in batches; once some have reached the DIP it
``kill -9``s the worker (and its pool), FLUSHDBs Redis db 7 (queued tasks, nudge flags, cache)
and starts a new worker. The outbox sweeper (beat, 5 s) and the lease expiry (5 s here) must
bring every message to the DIP exactly once. Checks, after everything is final:

    submitted (202) == accepted by the platform == held by the sandbox == N,
    no duplicate senderUniqueReference at the sandbox, nothing pending.

Exit 0 when all hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.outbound_env import EnvConfig, OutboundEnv

REDIS_DB = 7  # dedicated to this drill


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--batch", type=int, default=50, help="messages per client API request")
    p.add_argument("--timeout", type=float, default=180, help="seconds to wait for final states")
    args = p.parse_args(argv)
    n, batch = args.messages, max(1, min(args.batch, args.messages))
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    env = OutboundEnv(EnvConfig(name="drill", redis_db=REDIS_DB, mpan_count=50))
    say(f"setting up (database {env.database}, redis db {REDIS_DB}, logs {env.folder})")
    with env:
        say(f"up: web {env.web}, sandbox {env.sandbox}, tenant {env.host}")
        items = env.messages(n)
        chunks = [items[i : i + batch] for i in range(0, n, batch)]
        submitted: list[str] = []
        refused: list[str] = []
        lock = threading.Lock()

        def post(index: int) -> None:
            with httpx.Client(timeout=60) as client:
                for attempt in range(5):
                    try:
                        # Idempotency-Key: a retried request never submits twice.
                        r = env.submit(client, chunks[index], key=f"drill-{index}")
                    except httpx.HTTPError as exc:
                        error = repr(exc)
                        time.sleep(0.5 * (attempt + 1))
                        continue
                    with lock:
                        if r.status_code in (200, 202):
                            submitted.extend(m["id"] for m in r.json()["messages"])
                        else:
                            refused.append(f"{r.status_code} {r.text[:200]}")
                    return
                with lock:
                    refused.append(error)

        pool = ThreadPoolExecutor(max_workers=2)
        futures = [pool.submit(post, i) for i in range(len(chunks))]

        # Fault: once part of the run has reached the DIP, kill -9 the worker mid-flight.
        threshold = max(1, n // 4)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = env.platform_counts()
            if counts.get("state:accepted", 0) >= threshold or all(f.done() for f in futures):
                break
            time.sleep(0.05)
        killed_at = env.platform_counts().get("state:accepted", 0)
        env.kill_worker()
        say(f"kill -9 worker (pool included) with {killed_at}/{n} accepted")
        env.flush_redis()
        say(f"FLUSHDB redis db {REDIS_DB} (broker queues, nudge flags, cache)")
        time.sleep(1.0)
        env.start_worker()
        say("worker restarted")
        for f in futures:
            f.result()
        pool.shutdown()
        say(f"submitted {len(submitted)} messages ({len(refused)} requests refused)")
        counts = env.wait_settled(len(submitted), args.timeout)
        sandbox = env.sandbox_counts()
        say("final")

    accepted = counts.get("state:accepted", 0) + counts.get("state:settled", 0)
    others = {k: v for k, v in counts.items() if k.startswith("state:") and k not in _GOOD_STATES}
    rows = [
        ("messages asked for", n),
        ("submitted (client API 202)", len(submitted)),
        ("accepted/settled by the platform", accepted),
        ("accepted by the sandbox (stats)", sandbox["accepted_stat"]),
        ("held by the sandbox (SQLite rows)", sandbox["rows"]),
        ("distinct SURs at the sandbox", sandbox["distinct_surs"]),
        ("outbox entries still pending", counts.get("pending", 0)),
        ("messages in other states", sum(others.values())),
    ]
    print()
    print(f"{'check':<38} {'value':>8}")
    print("-" * 47)
    for name, value in rows:
        print(f"{name:<38} {value:>8}")
    attempts = {k[5:]: v for k, v in counts.items() if k.startswith("http:")}
    print(f"{'Send API attempts by HTTP status':<38} {attempts}")
    if refused:
        print("refused requests:", refused[:5])
    if others:
        print("other states:", others)
    ok = (
        len(submitted) == accepted == sandbox["rows"] == sandbox["distinct_surs"] == n
        and sandbox["accepted_stat"] == n
        and counts.get("pending", 0) == 0
        and not others
        and not refused
    )
    print(f"\ndrill {'PASSED' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s")
    return 0 if ok else 1


_GOOD_STATES = {"state:accepted", "state:settled"}

if __name__ == "__main__":
    raise SystemExit(main())
