"""Section `inbound`: the DIP webhook under load, beside the same run's floor.

gunicorn (``messaging.inbound.gunicorn_conf``: gthread, 2 processes per core) on loopback
against a dedicated database ``opendcp_bench_inbound`` (created, migrated, dropped here; never
the dev or test database) and Redis database 3. A separate load-generator process
(``bench.inbound_load``) POSTs signed callbacks of IF-021 messages (batch of 10, 12 half-hours
each, unique transaction ids). Full path: route lookup, signature + certificate check, level 1,
raw body + receipt + messages + transitions + feed events in one transaction, Celery enqueue,
201 StandardResponse. Floor: a minimal view behind the same middleware position that verifies
the signature and inserts one row (``bench.inbound_floor``).

Rows: sustained msgs/s at saturation (8 connections) vs the floor, p50/p90/p99 acknowledgement
latency at 100 msgs/s offered, and the rising-rate steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import httpx

from bench.run import Row
from dip.pki import Purpose, make_ca, make_leaf

SECTION = "inbound"
ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "opendcp_bench_inbound"
BATCH = 10


def _base_db_url() -> str:
    port = os.environ.get("DCP_PG_PORT", "54329")
    return os.environ.get("DATABASE_URL", f"postgres://opendcp@127.0.0.1:{port}/opendcp")


def _db_url(name: str) -> str:
    u = urlparse(_base_db_url())
    return urlunparse(u._replace(path=f"/{name}"))


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(_base_db_url(), autocommit=True) as conn:
        conn.execute(sql)


def _drop() -> None:
    _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{DB_NAME}' AND pid <> pg_backend_pid()"
    )
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")


def _redis_url() -> str:
    port = os.environ.get("DCP_REDIS_PORT", "63799")
    base = os.environ.get("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    return base.rsplit("/", 1)[0] + "/3"


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bench.inbound_settings",
        "DATABASE_URL": _db_url(DB_NAME),
        "REDIS_URL": _redis_url(),
        "CELERY_BROKER_URL": _redis_url(),
        "CELERY_RESULT_BACKEND": _redis_url(),
        "DB_CONN_MAX_AGE": "600",
        **extra,
    }


def _run(args: list[str], env: dict[str, str], timeout: float = 600) -> str:
    out = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, timeout=timeout
    )
    if out.returncode:
        raise RuntimeError(f"{args}: {out.stderr.decode()[-2000:]}")
    return out.stdout.decode()


def _load(url: str, folder: Path, rate: float, duration: float, **kw: Any) -> dict[str, Any]:
    args = ["-m", "bench.inbound_load", "--url", url, "--key", str(folder / "dip.key")]
    args += ["--cert", str(folder / "dip.crt"), "--rate", str(rate), "--duration", str(duration)]
    args += ["--batch", str(BATCH)]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    result: dict[str, Any] = json.loads(
        _run(args, {**os.environ, "PYTHONPATH": str(ROOT)}).splitlines()[-1]
    )
    return result


def run(quick: bool) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="inbound-bench-"))
    ca = make_ca(common_name="Bench DIP CA")
    leaf = make_leaf(issuer=ca, common_name="bench-dip", purposes=(Purpose.SIGNING,))
    (folder / "ca.pem").write_bytes(ca.cert_pem)
    (folder / "dip.crt").write_bytes(leaf.cert_pem)
    (folder / "dip.key").write_bytes(leaf.key_pem)
    port = _port()
    base = f"http://127.0.0.1:{port}"
    extra = {"DCP_DIP_TRUST_ROOTS": str(folder / "ca.pem"), "DCP_DIP_WEBHOOK_BASE_URL": base}
    _drop()
    _admin(f"CREATE DATABASE {DB_NAME}")
    proc = None
    try:
        env = _env(extra)
        _run(["manage.py", "migrate_schemas", "--shared", "--noinput", "-v", "0"], env)
        token = json.loads(_run(["-m", "bench.inbound_setup"], env).splitlines()[-1])["token"]
        log = (folder / "gunicorn.log").open("wb")
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "python:messaging.inbound.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "dcp.wsgi:application",
            ],
            cwd=ROOT,
            env={**env, "GUNICORN_ACCESS_LOG": ""},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/dip/inbound/none/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        hook, floor_url = f"{base}/dip/inbound/{token}/", f"{base}/bench/floor/{token}/"
        duration = 4.0 if quick else 8.0
        _load(hook, folder, 0, duration, max_calls=200, concurrency=4)  # warm-up
        _load(floor_url, folder, 0, duration, max_calls=200, concurrency=4)
        calls = 800 if quick else 2500
        floor = _load(floor_url, folder, 0, duration, max_calls=calls, concurrency=8)
        full = _load(hook, folder, 0, duration, max_calls=calls, concurrency=8)
        steps = {r: _load(hook, folder, r, duration) for r in (100, 400, 800)}
        if not quick:
            steps[1600] = _load(hook, folder, 1600, duration)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        _drop()
        try:
            import redis

            redis.Redis.from_url(_redis_url()).flushdb()
        except Exception:
            pass
    low = steps[100]
    extra_info: dict[str, float | str] = {
        "batch": float(BATCH),
        "statuses": json.dumps(full["statuses"]),
        "floor_statuses": json.dumps(floor["statuses"]),
        "cpus": float(os.cpu_count() or 0),
        **{f"offered_{r}_msgs_per_s": s["msgs_per_s"] for r, s in steps.items()},
        **{f"offered_{r}_p99_ms": s["p99_ms"] for r, s in steps.items()},
        "saturation_p50_ms": full["p50_ms"],
        "saturation_p99_ms": full["p99_ms"],
    }
    rate_ok = full["msgs_per_s"] >= 800 and full["msgs_per_s"] >= 0.6 * floor["msgs_per_s"]
    return [
        Row(
            SECTION,
            f"webhook msgs/s sustained (IF-021, batch {BATCH})",
            full["msgs_per_s"],
            "msg/s",
            "verify + insert one row floor",
            floor["msgs_per_s"],
            f">= 800 and >= 0.6 floor ({'meets' if rate_ok else 'BELOW'})",
            extra_info,
        ),
        Row(SECTION, "ack latency p50 @100 msg/s offered", low["p50_ms"], "ms"),
        Row(SECTION, "ack latency p90 @100 msg/s offered", low["p90_ms"], "ms"),
        Row(
            SECTION,
            "ack latency p99 @100 msg/s offered",
            low["p99_ms"],
            "ms",
            target=f"<= 50 ms ({'meets' if low['p99_ms'] <= 50 else 'BELOW'})",
        ),
    ]
