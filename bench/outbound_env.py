"""The real outbound process set: shared by ``scripts/drill_outbound.py`` and the bench section
``outbound``. Everything on loopback, against a DEDICATED PostgreSQL database and a dedicated
Redis database index (never 0 or 1), both wiped at the end:

* database ``opendcp_<name>``: created, ``migrate_schemas``, then ``bench.outbound_setup`` (DCP
  ID, tenant, SDS DIP ID nominated to the DCP ID, DIP API key, local-CA signing certificate,
  client API key);
* the DIP sandbox (``python -m sandbox serve``, own temp state dir) with a generated registry:
  the tenant's local CA as trust root, its DIP ID, key and nomination, a simulated supplier for
  the MPANs used;
* gunicorn (the client API), a Celery worker (queues ``outbound,housekeeping``) in its own
  process group (so ``kill_worker()`` is a real ``kill -9`` of the pool too) and Celery beat
  (the outbox sweeper every 5 s).

Runs sharing a Redis db index are serialised by a file lock (the second one waits).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG = f"postgres://opendcp@127.0.0.1:{os.environ.get('DCP_PG_PORT', '54329')}"
REDIS = f"redis://127.0.0.1:{os.environ.get('DCP_REDIS_PORT', '63799')}"
SANDBOX_ADMIN = "outbound-env-admin"
SIM_SUP = "2309039001"
INTERFACE = "IF-021"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mpans(count: int) -> list[str]:
    """``count`` valid MPAN cores (distinct, so per-MPAN ordering does not serialise a run)."""
    from dip.identifiers import mpan_check_digit

    out = []
    for i in range(count):
        first12 = f"21{i:010d}"
        out.append(first12 + str(mpan_check_digit(first12)))
    return out


def make_items(
    dip_id: str, mpan_cores: list[str], n: int, *, seed: int | None = None
) -> list[dict[str, Any]]:
    """``n`` IF-021 messages from the SDS ``dip_id`` (DCP ID left null for the platform to fill),
    unique senderUniqueReferences, spread over ``mpan_cores``."""
    from dip.samples import make_message

    rng = random.Random(seed)
    salt = rng.randrange(10**8)
    template = make_message(
        INTERFACE,
        sender_dip_id=dip_id,
        sender_role="SDS",
        dcp_dip_id=None,
        mpan_core=mpan_cores[0],
        rng=rng,
        periods=2,
    )
    raw = orjson.dumps(template)
    sur = template["payload"]["CommonBlock"]["S1"]["senderUniqueReference"].encode()
    out = []
    for i in range(n):
        unique = sur.rsplit(b"-", 1)[0] + f"-{salt:08d}{i:08d}".encode()
        mpan = mpan_cores[i % len(mpan_cores)].encode()
        out.append(orjson.loads(raw.replace(sur, unique).replace(mpan_cores[0].encode(), mpan)))
    return out


@dataclass
class EnvConfig:
    name: str  # database opendcp_<name>, tenant slug, temp folder prefix
    redis_db: int  # dedicated index; never 0 (make run) or 1 (tests)
    worker_concurrency: int = 2
    worker_pool: str = "prefork"
    prefetch: int = 1
    web_workers: int = 2
    web_threads: int = 4
    mpan_count: int = 200
    lease_seconds: float = 5.0  # a killed worker's claim is free again after this
    dip_timeout: float = 4.0  # < lease_seconds
    sandbox_wording: str = "spec"  # "terse": no free text to depend on (drills)
    extra_env: dict[str, str] = field(default_factory=dict)


class OutboundEnv:
    def __init__(self, config: EnvConfig) -> None:
        if config.redis_db in (0, 1):
            raise ValueError("redis db 0 (make run) and 1 (tests) are not ours to flush")
        self.config = config
        self.database = f"opendcp_{config.name}"
        self.slug = config.name.replace("_", "")
        self.folder = Path(tempfile.mkdtemp(prefix=f"outbound-{config.name}-"))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.info: dict[str, Any] = {}
        self.web_port = free_port()
        self.sandbox_port = free_port()
        self.web = f"http://127.0.0.1:{self.web_port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        self.mpans = mpans(config.mpan_count)
        self._worker_starts = 0
        self._lock: Any = None

    def _acquire(self) -> None:
        """One environment per Redis db index at a time (a drill from pytest and one by hand
        would flush each other's broker and drop each other's database): wait for the other."""
        path = (
            Path(tempfile.gettempdir()) / f"opendcp-outbound-env-redis{self.config.redis_db}.lock"
        )
        self._lock = path.open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another run using redis db {self.config.redis_db}", flush=True)
            fcntl.flock(self._lock, fcntl.LOCK_EX)

    # --- environment ----------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        c = self.config
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "bench.outbound_settings",
            "DATABASE_URL": f"{PG}/{self.database}",
            "REDIS_URL": f"{REDIS}/{c.redis_db}",
            "CELERY_BROKER_URL": f"{REDIS}/{c.redis_db}",
            "CELERY_RESULT_BACKEND": f"{REDIS}/{c.redis_db}",
            "DCP_DIP_BASE_URL_UIT": self.sandbox,
            "DCP_DIP_TIMEOUT": str(c.dip_timeout),
            "DCP_OUTBOUND_LEASE_SECONDS": str(c.lease_seconds),
            "DCP_OUTBOUND_RETRY_BASE_DELAY": "0.2",
            "DCP_OUTBOUND_RETRY_MAX_DELAY": "2",
            # No status webhook here: accepted is the end of the road, no L4 timer expiry.
            "DCP_OUTBOUND_STATUS_TIMEOUT": "86400",
            **c.extra_env,
        }

    def _spawn(self, name: str, args: list[str], *, group: bool = False) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=group,
        )

    def _run(self, args: list[str], timeout: float = 300) -> str:
        out = subprocess.run(
            args, cwd=ROOT, env=self.env, capture_output=True, timeout=timeout, check=False
        )
        if out.returncode:
            raise RuntimeError(f"{args} failed:\n{out.stdout.decode()}\n{out.stderr.decode()}")
        return out.stdout.decode()

    # --- up and down ----------------------------------------------------------------------
    def start(self) -> OutboundEnv:
        self._acquire()
        try:
            self._prepare_database()
            self.redis().flushdb()
            self._start_sandbox()
            self._spawn(
                "web",
                [
                    str(BIN / "gunicorn"),
                    "dcp.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.web_port}",
                    "--workers",
                    str(self.config.web_workers),
                    "--threads",
                    str(self.config.web_threads),
                    "--log-level",
                    "warning",
                ],
            )
            self.start_worker()
            self._spawn(
                "beat",
                [
                    str(BIN / "celery"),
                    "-A",
                    "dcp",
                    "beat",
                    "-l",
                    "warning",
                    "-s",
                    str(self.folder / "celerybeat-schedule"),
                ],
            )
            self._wait(f"{self.sandbox}/healthz")
            self._wait(f"{self.web}/healthz", headers={"Host": self.host})
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> OutboundEnv:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for name in list(self.procs):
            self._kill(name, signal.SIGTERM)
        with contextlib.suppress(Exception):
            self.redis().flushdb()
        with contextlib.suppress(Exception):
            self._drop_database()
        if not os.environ.get("OUTBOUND_ENV_KEEP"):
            shutil.rmtree(self.folder, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def _kill(self, name: str, sig: int) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig) if name == "worker" else proc.send_signal(sig)
            proc.wait(timeout=15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL) if name == "worker" else proc.kill()
            proc.wait(timeout=5)

    def _prepare_database(self) -> None:
        """The migrated, set-up database. The first run with the current migrations and setup
        code does it for real (``migrate_schemas`` + ``bench.outbound_setup``, ~30 s) and keeps
        a template database and the setup's files; later runs clone the template (~1 s)."""
        # The template and its cached files (API keys, certificates) belong to one PostgreSQL
        # server: a clone on other ports builds its own and must not overwrite ours.
        digest = hashlib.sha256(f"{self.slug}@{PG}".encode())
        for path in sorted(ROOT.glob("*/migrations/*.py")) + sorted(
            ROOT.glob("*/*/migrations/*.py")
        ):
            digest.update(path.read_bytes())
        digest.update((ROOT / "bench/outbound_setup.py").read_bytes())
        template = f"opendcp_tpl_{self.slug}_{digest.hexdigest()[:12]}"
        cache = Path(tempfile.gettempdir()) / f"opendcp-outbound-{template}"
        with (Path(tempfile.gettempdir()) / f"{template}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs of one slug: one builds, one waits
            with self._admin_db() as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [template]
                ).fetchone()
            if exists and (cache / "info.json").exists():
                with self._admin_db() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                    conn.execute(f'CREATE DATABASE "{self.database}" TEMPLATE "{template}"')
                for f in cache.iterdir():
                    shutil.copy(f, self.folder / f.name)
                self.info = orjson.loads((cache / "info.json").read_bytes())
                return
            self._create_database()
            self._run([sys.executable, "manage.py", "migrate_schemas", "--noinput", "-v", "0"])
            self.info = orjson.loads(
                self._run(
                    [sys.executable, "-m", "bench.outbound_setup", self.slug, str(self.folder)]
                )
                .strip()
                .splitlines()[-1]
            )
            with self._admin_db() as conn:
                for (old,) in conn.execute("SELECT datname FROM pg_database").fetchall():
                    if str(old).startswith(f"opendcp_tpl_{self.slug}_"):  # an older template
                        conn.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{self.database}"')
            for stale in Path(tempfile.gettempdir()).glob(
                f"opendcp-outbound-opendcp_tpl_{self.slug}_*"
            ):
                shutil.rmtree(stale, ignore_errors=True)
            cache.mkdir(mode=0o700)
            for f in self.folder.iterdir():
                if f.is_file():
                    shutil.copy(f, cache / f.name)
            (cache / "info.json").write_bytes(orjson.dumps(self.info))

    def _admin_db(self) -> psycopg.Connection[Any]:
        return psycopg.connect(f"{PG}/postgres", autocommit=True)

    def _create_database(self) -> None:
        with self._admin_db() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def _drop_database(self) -> None:
        with self._admin_db() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _start_sandbox(self) -> None:
        (self.folder / "tenant-ca.pem").write_text(self.info["ca_pem"])
        registry = {
            "environment": "UIT",
            "spec_version": "2.1.0",
            "admin_token": SANDBOX_ADMIN,
            "trust_roots": [str(self.folder / "tenant-ca.pem")],
            "participants": [
                {
                    "name": "Drill client",
                    "mpid": "ALFA",
                    "dip_ids": [
                        {
                            "dip_id": self.info["dip_id"],
                            "role": "SDS",
                            "nominated_dcps": [self.info["dcp_id"]],
                            "api_keys": {"primary": self.info["dip_api_key"]},
                        }
                    ],
                },
                {
                    "name": "Sim supplier",
                    "mpid": "SIMS",
                    "dip_ids": [
                        {"dip_id": SIM_SUP, "role": "SUP", "simulated": True, "status_delay": 0}
                    ],
                },
            ],
            "mpans": {m: {"gsp": "_K", "SUP": SIM_SUP} for m in self.mpans},
        }
        path = self.folder / "registry.yaml"
        path.write_text(yaml.safe_dump(registry), encoding="utf-8")
        state = self.folder / "sandbox"
        state.mkdir()
        self._spawn(
            "sandbox",
            [
                sys.executable,
                "-m",
                "sandbox",
                "serve",
                "--port",
                str(self.sandbox_port),
                "--registry",
                str(path),
                "--db",
                str(state / "sandbox.db"),
                "--state-dir",
                str(state),
                "--wording",
                self.config.sandbox_wording,
            ],
        )

    def _wait(self, url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2, headers=headers).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not come up; logs in {self.folder}")

    # --- the worker -----------------------------------------------------------------------
    def start_worker(self) -> None:
        self._worker_starts += 1
        c = self.config
        self._spawn(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "dcp",
                "worker",
                "-l",
                "warning",
                "-Q",
                "outbound,housekeeping",
                "--pool",
                c.worker_pool,
                "--concurrency",
                str(c.worker_concurrency),
                "--prefetch-multiplier",
                str(c.prefetch),
                "-n",
                f"outbound-{c.name}-{self._worker_starts}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            group=True,
        )

    def kill_worker(self) -> None:
        """``kill -9`` the worker and its pool (its process group)."""
        self._kill("worker", signal.SIGKILL)

    # --- clients --------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return str(self.info["host"])

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(f"{REDIS}/{self.config.redis_db}")

    def flush_redis(self) -> None:
        """FLUSHDB of the dedicated index: broker queues, nudge flags, cache — all gone."""
        self.redis().flushdb()

    def pg(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(f"{PG}/{self.database}", autocommit=True)
        conn.execute(f'SET search_path TO "{self.info["schema"]}", public')
        return conn

    def platform_counts(self) -> dict[str, int]:
        with self.pg() as conn:
            states = dict(
                conn.execute(
                    "SELECT state, count(*) FROM messaging_message WHERE direction = 'outbound' "
                    "GROUP BY state"
                ).fetchall()
            )
            pending = conn.execute(
                "SELECT count(*) FROM messaging_outbound_outboxentry WHERE pending"
            ).fetchone()
            attempts = dict(
                conn.execute(
                    "SELECT coalesce(status_code, 0), count(*) FROM messaging_outbound_attempt "
                    "GROUP BY 1"
                ).fetchall()
            )
        out = {f"state:{k}": int(v) for k, v in states.items()}
        out["pending"] = int(pending[0]) if pending else 0
        out.update({f"http:{k}": int(v) for k, v in attempts.items()})
        return out

    def sandbox_admin(self, method: str, path: str, **kw: Any) -> Any:
        r = httpx.request(
            method, self.sandbox + path, headers={"X-Admin-Token": SANDBOX_ADMIN}, timeout=60, **kw
        )
        r.raise_for_status()
        return r.json()

    def sandbox_counts(self) -> dict[str, int]:
        """What the sandbox holds from our DIP ID (after a drain, read from its SQLite)."""
        stats = self.sandbox_admin("POST", "/admin/drain", json={"timeout": 30})
        db = sqlite3.connect(self.folder / "sandbox" / "sandbox.db")
        try:
            total, distinct = db.execute(
                "SELECT count(*), count(DISTINCT sender_unique_reference) FROM messages "
                "WHERE sender_dip_id = ? AND origin = 'send'",
                [self.info["dip_id"]],
            ).fetchone()
        finally:
            db.close()
        return {
            "accepted_stat": int(stats["accepted_messages"]),
            "rows": int(total),
            "distinct_surs": int(distinct),
        }

    def messages(self, n: int, *, seed: int | None = None) -> list[dict[str, Any]]:
        return make_items(self.info["dip_id"], self.mpans, n, seed=seed)

    def submit(
        self, client: httpx.Client, items: list[dict[str, Any]], *, key: str = ""
    ) -> httpx.Response:
        headers = {"Host": self.host, "Authorization": f"Api-Key {self.info['client_key']}"}
        if key:
            headers["Idempotency-Key"] = key
        return client.post(
            f"{self.web}/api/v1/outbound/messages/",
            content=orjson.dumps(
                {"dip_id": self.info["dip_id"], "interface_id": INTERFACE, "messages": items}
            ),
            headers={**headers, "Content-Type": "application/json"},
        )

    def wait_settled(self, n: int, timeout: float) -> dict[str, int]:
        """Wait until no outbox entry is pending and ``n`` messages exist; the last counts."""
        deadline = time.monotonic() + timeout
        counts = self.platform_counts()
        while time.monotonic() < deadline:
            counts = self.platform_counts()
            total = sum(v for k, v in counts.items() if k.startswith("state:"))
            if total >= n and counts["pending"] == 0:
                break
            time.sleep(0.25)
        return counts

    def accept_times(self) -> dict[int, datetime]:
        """message id → when the sandbox's 201 for it reached the sender (Attempt.finished_at)."""
        with self.pg() as conn:
            rows = conn.execute(
                "SELECT m.id, a.finished_at FROM messaging_outbound_attempt a, "
                "unnest(a.message_ids) AS m(id) WHERE a.status_code = 201"
            ).fetchall()
        return {int(i): t for i, t in rows}

    # --- drills -------------------------------------------------------------------------------
    def add_fault(self, **spec: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.sandbox_admin("POST", "/admin/faults", json=spec)
        return result

    def clear_faults(self) -> None:
        self.sandbox_admin("DELETE", "/admin/faults")

    def availability(self, client: httpx.Client) -> dict[str, Any]:
        """The client API's view of the DIP (UIT) for this tenant."""
        r = client.get(
            f"{self.web}/api/v1/outbound/availability/",
            params={"environment": "UIT"},
            headers={"Host": self.host, "Authorization": f"Api-Key {self.info['client_key']}"},
        )
        r.raise_for_status()
        rows: list[dict[str, Any]] = r.json()
        return rows[0]

    def sandbox_rows(self) -> list[tuple[int, str, str]]:
        """(rowid, MPAN, SUR) of every message the sandbox accepted from us, in accept order."""
        db = sqlite3.connect(self.folder / "sandbox" / "sandbox.db")
        try:
            rows = db.execute(
                "SELECT rowid, mpan_core, sender_unique_reference FROM messages "
                "WHERE sender_dip_id = ? AND origin = 'send' ORDER BY rowid",
                [self.info["dip_id"]],
            ).fetchall()
        finally:
            db.close()
        return [(int(r), str(m or ""), str(u)) for r, m, u in rows]

    def platform_messages(self) -> list[tuple[int, str, str, str]]:
        """(id, SUR, state, MPAN) of every outbound message, in id (= arrival) order."""
        with self.pg() as conn:
            rows = conn.execute(
                "SELECT id, sender_unique_reference, state, mpan_core FROM messaging_message "
                "WHERE direction = 'outbound' ORDER BY id"
            ).fetchall()
        return [(int(i), str(s), str(st), str(m or "")) for i, s, st, m in rows]

    def exceptions(self) -> dict[str, int]:
        """Open exceptions by "category:code"."""
        with self.pg() as conn:
            rows = conn.execute(
                "SELECT category || ':' || code, count(*) FROM messaging_messageexception "
                "GROUP BY 1"
            ).fetchall()
        return {str(k): int(v) for k, v in rows}
