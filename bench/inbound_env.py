"""The real inbound process set, shared by the bench section ``inbound``, ``bench.inbound_profile``
and ``scripts/drill_inbound.py``. Everything on loopback, against a DEDICATED PostgreSQL database
and a dedicated Redis database index (never 0 or 1), both wiped at the end:

* database ``opendcp_<name>``: created, ``migrate_schemas --shared``, then ``bench.inbound_setup``
  (tenant, client DIP ID, IF-021 channel, optionally a signing certificate, a STATUS channel and
  a client endpoint) — returns the channel token and friends as JSON;
* gunicorn (``messaging.inbound.gunicorn_conf``) serving the webhook;
* optionally a Celery worker (own process group, so ``kill_worker()`` is a real ``kill -9`` of
  the pool too) and Celery beat, and the DIP sandbox (``python -m sandbox serve``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_PORT = os.environ.get("DCP_PG_PORT", "54329")
PG = f"postgres://opendcp@127.0.0.1:{PG_PORT}"
REDIS = f"redis://127.0.0.1:{os.environ.get('DCP_REDIS_PORT', '63799')}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/opendcp", autocommit=True) as conn:
        conn.execute(sql)


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class InboundEnv:
    """One dedicated database + Redis db, and the processes started on them."""

    def __init__(
        self,
        name: str,
        redis_db: int,
        *,
        settings_module: str = "bench.inbound_settings",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        if redis_db in (0, 1):
            raise ValueError("redis db 0 (make run) and 1 (tests) are not ours to flush")
        self.database = f"opendcp_{name}"
        self.redis_url = f"{REDIS}/{redis_db}"
        self.folder = Path(tempfile.mkdtemp(prefix=f"inbound-{name}-"))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.web_port = free_port()
        self.web = f"http://127.0.0.1:{self.web_port}"
        self.settings_module = settings_module
        self.extra_env = dict(extra_env or {})

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "DATABASE_URL": f"{PG}/{self.database}",
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "CELERY_RESULT_BACKEND": self.redis_url,
            "DB_CONN_MAX_AGE": "600",
            "DCP_DIP_WEBHOOK_BASE_URL": self.web,
            **self.extra_env,
        }

    def run(self, args: list[str], timeout: float = 600) -> str:
        out = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=self.env, capture_output=True, timeout=timeout
        )
        if out.returncode:
            raise RuntimeError(f"{args}: {out.stderr.decode()[-3000:]}")
        return out.stdout.decode()

    # --- database -------------------------------------------------------------------------
    def drop_database(self) -> None:
        admin_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.database}' AND pid <> pg_backend_pid()"
        )
        admin_sql(f"DROP DATABASE IF EXISTS {self.database}")

    def create_database(self, *setup_args: str) -> dict[str, Any]:
        """Fresh database, migrated, with the bench tenant; returns ``bench.inbound_setup``'s
        JSON (``token`` and, with ``--full``, ``status_token``, ``dip_id``, ``schema``)."""
        self.drop_database()
        admin_sql(f"CREATE DATABASE {self.database}")
        self.run(["manage.py", "migrate_schemas", "--shared", "--noinput", "-v", "0"])
        result: dict[str, Any] = json.loads(
            self.run(["-m", "bench.inbound_setup", *setup_args]).splitlines()[-1]
        )
        return result

    def flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.redis_url).flushdb()

    # --- processes ------------------------------------------------------------------------
    def spawn(
        self, name: str, args: list[str], *, group: bool = False, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=group,
        )
        self.procs[name] = proc
        return proc

    def start_web(self, workers: int | None = None, threads: int | None = None) -> None:
        extra = {"GUNICORN_ACCESS_LOG": ""}
        if workers:
            extra["WEB_CONCURRENCY"] = str(workers)
        if threads:
            extra["GUNICORN_THREADS"] = str(threads)
        self.spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "-c",
                "python:messaging.inbound.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "dcp.wsgi:application",
            ],
            env=extra,
        )
        wait_http(f"{self.web}/dip/inbound/none/")

    def start_worker(
        self, queues: str = "inbound,delivery,housekeeping", concurrency: int = 2
    ) -> None:
        self.spawn(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "dcp",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "--prefetch-multiplier",
                "1",
                "-l",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            group=True,
        )

    def kill_worker(self) -> None:
        """``kill -9`` the worker and its pool (its own process group)."""
        proc = self.procs.pop("worker", None)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def start_beat(self) -> None:
        self.spawn(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "dcp",
                "beat",
                "-l",
                "WARNING",
                "-s",
                str(self.folder / "beat-schedule"),
            ],
        )

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if name == "worker":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def close(self) -> None:
        for name in list(self.procs):
            if name == "worker":
                self.kill_worker()
            else:
                self.stop(name)
        with contextlib.suppress(Exception):
            self.drop_database()
        with contextlib.suppress(Exception):
            self.flush_redis()

    def __enter__(self) -> InboundEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
