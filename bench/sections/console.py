"""Section `console`: search latency (first keyset page of 50 + count) p50/p95 on a tenant
with one million messages, per main filter shape, on a dedicated database
(``opendcp_bench_console``) created, migrated and dropped here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.inbound_env import PG, ROOT, admin_sql
from bench.run import Row

DATABASE = "opendcp_bench_console"


def _drop() -> None:
    admin_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()"
    )
    admin_sql(f"DROP DATABASE IF EXISTS {DATABASE}")


def _py(args: list[str], env: dict[str, str], timeout: float = 900) -> str:
    out = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, timeout=timeout
    )
    if out.returncode:
        raise RuntimeError(f"{args}: {out.stderr.decode()[-3000:]}")
    return out.stdout.decode()


def run(quick: bool) -> list[Row]:
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "DJANGO_SETTINGS_MODULE": "bench.console_settings",
    }
    count, reps = (100_000, 5) if quick else (1_000_000, 20)
    _drop()
    admin_sql(f"CREATE DATABASE {DATABASE}")
    try:
        _py(["manage.py", "migrate_schemas", "--shared", "--noinput", "-v", "0"], env)
        result = json.loads(
            _py(["-m", "bench.console_search", str(count), str(reps)], env).splitlines()[-1]
        )
    finally:
        _drop()
    rows = [
        Row(
            "console",
            f"seed {result['messages']:,} messages (SQL)",
            result["seed_s"],
            "s",
            target="< 30 s",
        )
    ]
    for name, t in result["shapes"].items():
        rows.append(
            Row(
                "console",
                f"search p50: {name}",
                t["p50_ms"],
                "ms",
                target="< 200 ms",
                extra={"p95_ms": round(t["p95_ms"], 1)},
            )
        )
        rows.append(Row("console", f"search p95: {name}", t["p95_ms"], "ms", target="< 500 ms"))
    return rows
