"""Section `evidence`: build one evidence pack over a large generated period.

A dedicated database (``opendcp_bench_evidence``) is created, migrated and dropped; a
subprocess (``bench.evidence_build``) generates the messages in SQL (INSERT … SELECT
generate_series: a ~250-byte raw body and two transitions per message), builds the pack and
verifies it. Measured: messages/s of the build, and the build process's peak RSS
(``ru_maxrss``), against the 500 MB target. Full run: 1,000,000 messages
(``EVIDENCE_BENCH_MESSAGES`` overrides); ``--quick``: 20,000.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench.run import Row

SECTION = "evidence"
ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BENCH_PG", "postgres://opendcp@127.0.0.1:54329")
DATABASE = "opendcp_bench_evidence"
MEMORY_TARGET_MB = 500.0


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _run(args: list[str], env: dict[str, str], timeout: float) -> str:
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=timeout, check=False)
    if out.returncode:
        raise RuntimeError(f"{args} failed:\n{out.stdout.decode()}\n{out.stderr.decode()[-4000:]}")
    return out.stdout.decode()


def measure(count: int) -> dict[str, Any]:
    media = tempfile.mkdtemp(prefix="bench-evidence-")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bench.outbound_settings",
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "DCP_MEDIA_ROOT": media,
    }
    _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{DATABASE}"')
    try:
        _run([sys.executable, "manage.py", "migrate_schemas", "--noinput", "-v", "0"], env, 600)
        out = _run([sys.executable, "-m", "bench.evidence_build", str(count), media], env, 3600)
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        subprocess.run(["rm", "-rf", media], check=False)
    return result


def run(quick: bool) -> list[Row]:
    count = 20_000 if quick else int(os.environ.get("EVIDENCE_BENCH_MESSAGES", "1000000"))
    r = measure(count)
    extra = {k: v for k, v in r.items() if isinstance(v, int | float | str)}
    return [
        Row(
            SECTION,
            f"pack build throughput ({r['messages']:,} msgs)",
            r["messages"] / r["build_s"],
            "msg/s",
            extra=extra,
        ),
        Row(
            SECTION,
            "pack build peak RSS",
            r["peak_rss_mb"],
            "MB",
            baseline_name="target",
            baseline_value=MEMORY_TARGET_MB,
            target=f"< {MEMORY_TARGET_MB:.0f} MB; verify_ok={r['verify_ok']}",
        ),
    ]
