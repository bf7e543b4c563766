"""Section `outbound`: client API call -> outbox -> Celery sender -> DIP sandbox acceptance.

The process set of the outbound drill (``bench.outbound_env``: dedicated database and Redis
db 8, the sandbox, gunicorn, a Celery worker and beat), and a load generator in its own process
(``bench.outbound_load``) POSTing batches of 100 IF-021 messages to the client API at offered
rates of 100, 250 and 500 msg/s and as fast as it can. Measured per run:

* end-to-end msg/s = messages accepted by the sandbox / (last sandbox 201 - first API call
  [+ one batch interval for a paced run, whose k batches go out at 0 .. k-1 intervals]);
* accept-to-DIP-acknowledged latency per message: the load generator's wall time of the API's
  202 for its request -> ``Attempt.finished_at`` of the Send API call answered 201 (p50, p90,
  p99; negative when the worker sent it before the 202 reached the client).

Floor, same run: ``bench.sandbox_load`` signing the same-sized batches (100) with the tenant's
certificate and POSTing them straight to the same sandbox (no platform), at the worker's
concurrency. Bounded: about 10 s of load per rate (3 s with --quick).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from statistics import quantiles
from typing import Any

from bench.outbound_env import ROOT, EnvConfig, OutboundEnv
from bench.run import Row

SECTION = "outbound"
TARGET = 500.0
BATCH = 100
REDIS_DB = 8  # dedicated to this bench


def _json(env: OutboundEnv, args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env.env,
        capture_output=True,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def _floor(env: OutboundEnv, n: int, concurrency: int) -> tuple[float, float]:
    run = _json(
        env,
        [
            "bench.sandbox_load",
            "--target",
            "sandbox",
            "--url",
            f"{env.sandbox}/dip-channel/IF-021",
            "--messages",
            str(n),
            "--batch",
            str(BATCH),
            "--concurrency",
            str(concurrency),
            "--periods",
            "2",
            "--sender",
            env.info["dip_id"],
            "--dcp",
            env.info["dcp_id"],
            "--mpan",
            env.mpans[0],
            "--api-key",
            env.info["dip_api_key"],
            "--cert",
            str(env.folder / "signing.crt"),
            "--key",
            str(env.folder / "signing.key"),
        ],
    )
    if run["statuses"] != {"201": run["batches"]}:
        raise RuntimeError(f"floor: the sandbox answered {run['statuses']}")
    elapsed = run["finished"] - run["started"]
    return n / elapsed, 1000 * elapsed * concurrency / run["batches"]


def _acks(env: OutboundEnv, submissions: list[int]) -> list[tuple[int, datetime]]:
    with env.pg() as conn:
        rows = conn.execute(
            "SELECT o.submission_id, a.finished_at FROM messaging_outbound_attempt a, "
            "unnest(a.message_ids) AS m(id) "
            "JOIN messaging_outbound_outboxentry o ON o.message_id = m.id "
            "WHERE a.status_code = 201 AND o.submission_id = ANY(%s)",
            [submissions],
        ).fetchall()
    return [(int(s), t) for s, t in rows]


def _load(env: OutboundEnv, n: int, rate: float, expected: int) -> dict[str, Any]:
    run = _json(
        env,
        [
            "bench.outbound_load",
            "--web",
            env.web,
            "--host",
            env.host,
            "--key",
            env.info["client_key"],
            "--dip-id",
            env.info["dip_id"],
            "--messages",
            str(n),
            "--batch",
            str(BATCH),
            "--rate",
            str(rate),
            "--mpans",
            str(env.config.mpan_count),
        ],
    )
    counts = env.wait_settled(expected, timeout=90)
    t202 = {int(s): t for s, t in run["accepted"]}
    acks = _acks(env, list(t202))
    latencies = [1000 * (at.timestamp() - t202[s]) for s, at in acks]
    last = max((at.timestamp() for _, at in acks), default=run["finished"])
    # A paced run offers its k batches at 0, 1, ... k-1 intervals: its span is k intervals.
    span = last - run["started"] + (BATCH / rate if rate else 0.0)
    return {
        "n": len(acks),
        "statuses": run["statuses"],
        "rate": len(acks) / max(1e-9, span),
        "latencies": latencies,
        "counts": counts,
    }


def _pcts(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else 0.0
        return v, v, v
    q = quantiles(values, n=100, method="inclusive")
    return q[49], q[89], q[98]


def run(quick: bool) -> list[Row]:
    seconds = 3.0 if quick else 10.0
    max_n = 1500 if quick else 5000
    config = EnvConfig(name="bench_out", redis_db=REDIS_DB, lease_seconds=30.0, dip_timeout=10.0)
    rows: list[Row] = []
    with OutboundEnv(config) as env:
        floor, floor_ms = _floor(env, max_n, config.worker_concurrency)
        rows.append(Row(SECTION, f"floor: sign + POST {BATCH}/batch to sandbox", floor, "msg/s"))
        expected = 0
        for rate in (100.0, 250.0, 500.0, 0.0):
            n = max_n if rate == 0 else int(rate * seconds)
            expected += n
            started = time.perf_counter()
            result = _load(env, n, rate, expected)
            label = "max" if rate == 0 else f"{rate:.0f}/s"
            p50, p90, p99 = _pcts(result["latencies"])
            met = result["rate"] >= TARGET
            if rate:
                kept = result["n"] == n and result["rate"] >= 0.9 * rate
                target = f"keeps up with {label} ({'met' if kept else 'not met'})"
            else:
                target = f">= {TARGET:.0f} msg/s end-to-end ({'met' if met else 'not met'})"
            extra: dict[str, float | str] = {
                "messages": result["n"],
                "offered": label,
                "wall_s": round(time.perf_counter() - started, 1),
                "api_statuses": json.dumps(result["statuses"]),
            }
            rows.append(
                Row(
                    SECTION,
                    f"end-to-end @ offered {label}",
                    result["rate"],
                    "msg/s",
                    "floor",
                    floor,
                    target,
                    extra,
                )
            )
            for name, value in (("p50", p50), ("p90", p90), ("p99", p99)):
                rows.append(
                    Row(
                        SECTION,
                        f"202 -> DIP 201 {name} @ {label}",
                        value,
                        "ms",
                        "floor batch POST mean ms",
                        floor_ms,
                    )
                )
    return rows
