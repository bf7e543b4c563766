"""Liveness and readiness.

``/healthz`` says the process answers. ``/readyz`` says this instance can do useful work: the
database answers, Redis answers, storage is writable, every migration is applied in the
public schema and in every tenant schema, a Celery worker wrote its heartbeat recently and
beat's heartbeat task ran recently. Anonymous callers get the overall status (200 or 503);
DCP staff (or a caller with the metrics token) get every check with its reason.

Heartbeats live in the Celery broker's Redis: each worker writes
``<prefix>:worker:<hostname>`` from a worker timer (``WorkerHeartbeat`` bootstep), and beat
schedules ``housekeeping.heartbeat_dispatch`` which writes ``<prefix>:beat``. The beat
heartbeat is written by a worker running beat's task, so a fresh one proves beat, the broker
and a housekeeping worker together.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import bootsteps
from django.conf import settings
from django.http import HttpRequest, JsonResponse

from dcp.celery import app, dispatch_task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    ms: float = 0.0


@dataclass(frozen=True)
class ReadinessConfig:
    """Everything the checks connect to; tests build broken ones (closed port, wrong name)."""

    db: dict[str, Any]
    redis_url: str
    media_root: str
    storage_backend: str
    heartbeat_prefix: str
    worker_max_age: float
    beat_max_age: float
    timeout: float = 2.0
    checks: tuple[str, ...] = field(
        default=("database", "migrations", "redis", "storage", "celery_workers", "celery_beat")
    )


def default_config() -> ReadinessConfig:
    db = settings.DATABASES["default"]
    return ReadinessConfig(
        db={
            "host": db.get("HOST") or None,
            "port": int(db["PORT"]) if db.get("PORT") else None,
            "dbname": db["NAME"],
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
        },
        redis_url=settings.CELERY_BROKER_URL,
        media_root=str(settings.MEDIA_ROOT),
        storage_backend=settings.STORAGES["default"]["BACKEND"],
        heartbeat_prefix=settings.DCP_HEARTBEAT_PREFIX,
        worker_max_age=settings.DCP_WORKER_HEARTBEAT_MAX_AGE,
        beat_max_age=settings.DCP_BEAT_HEARTBEAT_MAX_AGE,
    )


# --- database and migrations --------------------------------------------------------------


def _pg_connect(config: ReadinessConfig) -> Any:
    import psycopg

    params = {k: v for k, v in config.db.items() if v is not None}
    return psycopg.connect(
        **params,
        connect_timeout=max(1, int(config.timeout)),
        options=f"-c statement_timeout={int(config.timeout * 1000)}",
        autocommit=True,
    )


def check_database(config: ReadinessConfig) -> str:
    with _pg_connect(config) as conn:
        conn.execute("SELECT 1")
    return "answers"


@functools.cache
def expected_migrations() -> frozenset[tuple[str, str]]:
    """Every migration on disk (the code's migration graph); applied rows must cover it."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(loader.graph.nodes)


def _schemas(conn: Any) -> list[str]:
    rows = conn.execute(
        "SELECT t.schema_name FROM public.tenants_tenant t"
        " JOIN pg_namespace n ON n.nspname = t.schema_name ORDER BY 1"
    ).fetchall()
    names = [r[0] for r in rows]
    return names if "public" in names else ["public", *names]


def check_migrations(config: ReadinessConfig) -> str:
    from psycopg import sql

    expected = expected_migrations()
    behind: list[str] = []
    with _pg_connect(config) as conn:
        schemas = _schemas(conn)
        for schema in schemas:
            query = sql.SQL("SELECT app, name FROM {}.django_migrations").format(
                sql.Identifier(schema)
            )
            try:
                applied = {tuple(r) for r in conn.execute(query)}
            except Exception:
                behind.append(f"{schema}: no migrations table")
                continue
            missing = sorted(expected - applied)
            if missing:
                shown = ", ".join(f"{a}.{n}" for a, n in missing[:3])
                more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
                behind.append(f"{schema}: {len(missing)} unapplied ({shown}{more})")
    if behind:
        raise RuntimeError("migrations not applied: " + "; ".join(behind[:5]))
    return f"{len(expected)} migrations applied in {len(schemas)} schemas"


# --- redis, storage, heartbeats -----------------------------------------------------------


def _redis(config: ReadinessConfig) -> Any:
    import redis

    return redis.Redis.from_url(
        config.redis_url, socket_connect_timeout=config.timeout, socket_timeout=config.timeout
    )


def check_redis(config: ReadinessConfig) -> str:
    _redis(config).ping()
    return "answers"


def check_storage(config: ReadinessConfig) -> str:
    if config.storage_backend.endswith("FileSystemStorage"):
        root = config.media_root
        if not os.path.isdir(root):
            raise RuntimeError(f"MEDIA_ROOT {root} does not exist")
        with tempfile.NamedTemporaryFile(dir=root, prefix=".readyz-", delete=True) as fh:
            fh.write(b"ok")
        return f"{root} writable"
    from django.core.files.storage import default_storage

    default_storage.exists(".readyz")  # one round trip to the bucket
    return f"{config.storage_backend} answers"


def heartbeat_age(raw: bytes | str | None) -> float | None:
    if raw is None:
        return None
    return max(0.0, time.time() - float(raw))


def check_workers(config: ReadinessConfig) -> str:
    client = _redis(config)
    keys = list(client.scan_iter(match=f"{config.heartbeat_prefix}:worker:*", count=100))
    if not keys:
        raise RuntimeError("no Celery worker heartbeat (is a worker running?)")
    ages = {}
    for key, raw in zip(keys, client.mget(keys), strict=True):
        age = heartbeat_age(raw)
        if age is not None:
            ages[key.decode().rsplit(":", 1)[-1]] = age
    fresh = sorted(h for h, age in ages.items() if age <= config.worker_max_age)
    if not fresh:
        newest = min(ages.values()) if ages else float("inf")
        raise RuntimeError(
            f"no Celery worker heartbeat within {config.worker_max_age:.0f}s "
            f"(newest {newest:.0f}s ago)"
        )
    return f"{len(fresh)} worker(s) alive: {', '.join(fresh[:5])}"


def check_beat(config: ReadinessConfig) -> str:
    age = heartbeat_age(_redis(config).get(f"{config.heartbeat_prefix}:beat"))
    if age is None:
        raise RuntimeError("no beat heartbeat (is celery beat running?)")
    if age > config.beat_max_age:
        raise RuntimeError(f"beat heartbeat {age:.0f}s old (limit {config.beat_max_age:.0f}s)")
    return f"beat heartbeat {age:.0f}s ago"


CHECKS: dict[str, Callable[[ReadinessConfig], str]] = {
    "database": check_database,
    "migrations": check_migrations,
    "redis": check_redis,
    "storage": check_storage,
    "celery_workers": check_workers,
    "celery_beat": check_beat,
}


def run_checks(config: ReadinessConfig | None = None) -> list[CheckResult]:
    config = config or default_config()
    results = []
    for name in config.checks:
        started = time.perf_counter()
        try:
            detail, ok = CHECKS[name](config), True
        except Exception as exc:  # every failure becomes a reason, never a 500
            detail, ok = f"{type(exc).__name__}: {exc}".strip()[:500], False
        results.append(
            CheckResult(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))
        )
    return results


_cache_lock = threading.Lock()
_cache: tuple[float, list[CheckResult]] | None = None


def cached_checks() -> list[CheckResult]:
    """Readiness results, reused for DCP_READYZ_CACHE_SECONDS so probes stay cheap."""
    global _cache
    ttl = settings.DCP_READYZ_CACHE_SECONDS
    with _cache_lock:
        if _cache is not None and ttl > 0 and time.monotonic() - _cache[0] < ttl:
            return _cache[1]
    results = run_checks()
    with _cache_lock:
        _cache = (time.monotonic(), results)
    return results


# --- views --------------------------------------------------------------------------------


def may_see_details(request: HttpRequest) -> bool:
    from dcp.metrics import has_metrics_token

    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and getattr(user, "staff_role", ""):
        return True
    return has_metrics_token(request)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers (no dependency is touched)."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    results = cached_checks()
    ok = all(r.ok for r in results)
    body: dict[str, Any] = {"status": "ok" if ok else "unavailable"}
    if may_see_details(request):
        body["checks"] = {
            r.name: {k: v for k, v in asdict(r).items() if k != "name"} for r in results
        }
        body["failing"] = [r.name for r in results if not r.ok]
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


# --- heartbeat writers ---------------------------------------------------------------------


def write_worker_heartbeat(hostname: str, *, config: ReadinessConfig | None = None) -> None:
    config = config or default_config()
    ttl = int(max(config.worker_max_age * 3, 60))
    _redis(config).set(f"{config.heartbeat_prefix}:worker:{hostname}", f"{time.time():.3f}", ex=ttl)


def write_beat_heartbeat(*, config: ReadinessConfig | None = None) -> None:
    config = config or default_config()
    ttl = int(max(config.beat_max_age * 3, 600))
    _redis(config).set(f"{config.heartbeat_prefix}:beat", f"{time.time():.3f}", ex=ttl)


@dispatch_task(name="housekeeping.heartbeat_dispatch")
def heartbeat_dispatch() -> int:
    """Scheduled by beat every minute; its timestamp is readiness' proof that beat runs.
    A dispatch task that fans out to nobody: it touches no tenant data."""
    write_beat_heartbeat()
    return 0


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes this worker's heartbeat key from the worker's own timer (main process)."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        hostname = getattr(parent, "hostname", None) or socket.gethostname()
        interval = float(settings.DCP_WORKER_HEARTBEAT_INTERVAL)
        self._beat(hostname)
        self.tref = parent.timer.call_repeatedly(interval, self._beat, (hostname,), priority=10)

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    @staticmethod
    def _beat(hostname: str) -> None:
        try:
            write_worker_heartbeat(hostname)
        except Exception as exc:  # Redis down: readiness will say so; the worker carries on
            log.warning("worker heartbeat not written: %s", exc)


app.steps["worker"].add(WorkerHeartbeat)
