"""Run-level housekeeping for the test suite (called from tests/conftest.py at session start).

* ``require_services``: PostgreSQL and Redis must answer within a few seconds; otherwise the
  run stops at once with a message naming the service, its address and the fix — a test never
  hangs waiting for a service that is not there.
* ``clean_up_after_killed_runs``: a run killed before its teardown (Ctrl-C twice, kill -9, a CI
  time-out) leaves its test databases, its Redis keys and the servers/workers it spawned.
  Each run is tagged with ``DCP_TEST_RUN_ID`` (the pid of the process that started pytest; see
  dcp/settings/test.py): databases ``test_opendcp_<run>[_gwN]``, Redis keys ``test:<run>:*``,
  and the environment of every process it spawned. Whatever belongs to a run whose pid is no
  longer alive is removed here; live runs beside us are never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path

import pytest
from django.conf import settings

_DB = re.compile(r"^test_opendcp_(\d+)(?:_gw\d+)?$")
_KEY = re.compile(rb"^test:(\d+):")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dsn(dbname: str = "postgres") -> str:
    from psycopg.conninfo import make_conninfo

    db = settings.DATABASES["default"]
    parts = {k: db.get(k.upper()) for k in ("user", "host", "port", "password")}
    return make_conninfo(dbname=dbname, connect_timeout=5, **{k: v for k, v in parts.items() if v})


def _redis():  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=5, socket_timeout=10
    )


def require_services() -> None:
    import psycopg

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(_dsn(), autocommit=True).close()
    except psycopg.Error as exc:
        pytest.exit(
            f"PostgreSQL at {db.get('HOST')}:{db.get('PORT')} is not reachable: {exc}".strip()
            + "\n  fix: `make services` (or `make test`) starts the private cluster; or point "
            "DATABASE_URL at a running server",
            returncode=3,
        )
    try:
        _redis().ping()
    except Exception as exc:
        pytest.exit(
            f"Redis at {settings.CELERY_BROKER_URL} is not reachable: {exc}"
            "\n  fix: `make services` (or `make test`) starts the private Redis; or point "
            "REDIS_URL at a running server",
            returncode=3,
        )


def _stray_processes() -> list[tuple[int, int]]:
    """(pid, run) of processes spawned by test runs whose starting process is gone."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        match = re.search(rb"(?:^|\0)DCP_TEST_RUN_ID=(\d+)\0", environ)
        if match and not _alive(int(match.group(1))):
            found.append((int(proc.name), int(match.group(1))))
    return found


def clean_up_after_killed_runs() -> None:
    import psycopg

    for pid, _run in _stray_processes():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
        for name in names:
            match = _DB.match(name)
            if match and not _alive(int(match.group(1))):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    client = _redis()
    dead: set[bytes] = set()
    for key in client.scan_iter(match="test:*", count=1000):
        match = _KEY.match(key)
        if match and (match.group(1) in dead or not _alive(int(match.group(1)))):
            dead.add(match.group(1))
            client.delete(key)
