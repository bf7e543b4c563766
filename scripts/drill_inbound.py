"""Inbound fault drill (``make drill-inbound``): real processes on loopback, faults injected while
N messages flow DIP → platform → client system.

Processes (set-up shared with the bench: ``bench.inbound_env``): the DIP sandbox (own temp state,
generated registry: our client's SUP DIP ID with its IF-021 webhook at the platform, a simulated
SDS that sends), gunicorn, a Celery worker (queues inbound,delivery,housekeeping) and beat (the
inbound sweeper every 3 s, ``bench.inbound_drill_settings``), against the dedicated database
``opendcp_drill_inbound`` and Redis db 5; and here, a client endpoint server that verifies
Standard Webhooks signatures and records webhook-ids and message ids.

The SDS sends N IF-021 messages (default 500) through the sandbox Send API while the drill:
kill -9s the worker (and restarts it), FLUSHDBs the drill's Redis db, and takes the client
endpoint down long enough for the platform to pause it, then brings it back and resumes it.

Asserts: stored (platform) == acknowledged (sandbox deliveries answered 2xx) == delivered to
the client == N, every push signature verified, no duplicate at the client: unique webhook-ids
== N and no message under two webhook-ids. A push whose 2xx was lost (worker killed after the
POST) comes again under the same webhook-id — the idempotency key — and is counted and printed
(``same_webhook_id_redelivered``), not failed. Prints the figures; exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import random
import sqlite3
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
import yaml  # noqa: E402

from bench.inbound_env import PG, InboundEnv, free_port, wait_http  # noqa: E402
from dip.client import encode_messages  # noqa: E402
from dip.identifiers import mpan_check_digit  # noqa: E402
from dip.samples import make_message  # noqa: E402
from dip.signing import SigningIdentity, sign_request  # noqa: E402

SUP = "2309010001"  # our client (the bench tenant's DIP ID)
SDS = "1409010001"  # the simulated counterparty that sends
SDS_KEY = "drill-sds-key"
ADMIN = "drill-inbound-admin"
BATCH = 10


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- the client's system ------------------------------------------------------------------------
@dataclass
class ClientSystem:
    secret: str = ""
    ids: Counter[str] = field(default_factory=Counter)  # webhook-id → 2xx receipts
    messages: Counter[str] = field(default_factory=Counter)  # message id → 2xx receipts
    ids_of: dict[str, set[str]] = field(default_factory=dict)  # message id → webhook-ids
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, headers: Any, body: bytes) -> bool:
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        expected = "v1," + base64.b64encode(mac).decode()
        fresh = abs(time.time() - int(ts)) < 300
        parts = headers["webhook-signature"].split(" ")
        return fresh and any(hmac.compare_digest(expected, p) for p in parts)


class ClientServer:
    """A small HTTP server for the client endpoint; ``down()`` closes the port."""

    def __init__(self, system: ClientSystem) -> None:
        self.system = system
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.server: ThreadingHTTPServer | None = None

    def up(self) -> None:
        system = self.system

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = system.verify(self.headers, body)
                with system.lock:
                    if ok:
                        system.ids[self.headers["webhook-id"]] += 1
                        data = json.loads(body).get("data", {})
                        message_id = str(data.get("message_id"))
                        system.messages[message_id] += 1
                        system.ids_of.setdefault(message_id, set()).add(self.headers["webhook-id"])
                    else:
                        system.bad_signatures += 1
                self.send_response(204 if ok else 400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# --- the sandbox --------------------------------------------------------------------------------
def mpan_cores(count: int) -> list[str]:
    out = []
    for i in range(count):
        first12 = f"21{i + 7:010d}"
        out.append(first12 + str(mpan_check_digit(first12)))
    return out


def start_sandbox(env: InboundEnv, hook: str, mpans: list[str]) -> str:
    port = free_port()
    registry = {
        "environment": "UIT",
        "spec_version": "2.1.0",
        "admin_token": ADMIN,
        "trust_roots": ["sandbox"],
        "participants": [
            {
                "name": "Drill client",
                "mpid": "ACME",
                "dip_ids": [{"dip_id": SUP, "role": "SUP", "webhooks": {"IF-021": hook}}],
            },
            {
                "name": "Drill SDS",
                "mpid": "BRWT",
                "dip_ids": [{"dip_id": SDS, "role": "SDS", "api_keys": {"primary": SDS_KEY}}],
            },
        ],
        "mpans": {m: {"gsp": "_K", "SUP": SUP, "SDS": SDS} for m in mpans},
    }
    path = env.folder / "registry.yaml"
    path.write_text(yaml.safe_dump(registry), encoding="utf-8")
    state = env.folder / "sandbox"
    state.mkdir()
    env.spawn(
        "sandbox",
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--registry",
            str(path),
            "--db",
            str(state / "sandbox.db"),
            "--state-dir",
            str(state),
        ],
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz")
    return url


def sandbox_admin(sandbox: str, method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(method, sandbox + path, headers={"X-Admin-Token": ADMIN}, timeout=90, **kw)
    r.raise_for_status()
    return r.json()


def sender_identity(sandbox: str) -> SigningIdentity:
    issued = sandbox_admin(sandbox, "POST", "/admin/pki/issue", json={"common_name": "drill-sds"})
    return SigningIdentity.from_pem(
        key_pem=issued["key_pem"].encode(), cert_pem=issued["cert_pem"].encode()
    )


def send_all(
    sandbox: str, identity: SigningIdentity, mpans: list[str], n: int, seconds: float
) -> int:
    """N IF-021 messages from the SDS in batches of 10, spread over ``seconds``; returns how
    many the sandbox accepted (201)."""
    rng = random.Random(n)
    url = f"{sandbox}/dip-channel/IF-021"
    accepted, batches = 0, (n + BATCH - 1) // BATCH
    start = time.monotonic()
    for b in range(batches):
        items = [
            make_message(
                "IF-021",
                sender_dip_id=SDS,
                sender_role="SDS",
                dcp_dip_id=None,
                mpan_core=mpans[(b * BATCH + i) % len(mpans)],
                rng=random.Random(rng.getrandbits(64)),
                environment="UIT",
                periods=2,
            )
            for i in range(min(BATCH, n - b * BATCH))
        ]
        body = encode_messages(items)
        for _ in range(5):
            headers = sign_request(
                method="POST", url=url, body=body, identity=identity, now=datetime.now(UTC)
            )
            headers.update({"Content-Type": "application/json", "X-API-Key": SDS_KEY})
            r = httpx.post(url, content=body, headers=headers, timeout=30)
            if r.status_code == 201:
                accepted += len(items)
                break
            log(f"send batch {b}: HTTP {r.status_code} {r.text[:200]}")
            time.sleep(1)
        delay = start + (b + 1) * seconds / batches - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return accepted


def sandbox_acknowledged(env: InboundEnv) -> dict[str, int]:
    with sqlite3.connect(env.folder / "sandbox" / "sandbox.db") as db:
        delivered = db.execute(
            "SELECT count(*) FROM deliveries WHERE recipient_dip_id = ? "
            "AND last_status_code BETWEEN 200 AND 299",
            [SUP],
        ).fetchone()[0]
        attempts = dict(
            db.execute(
                "SELECT coalesce(status_code, 0), count(*) FROM attempts "
                "WHERE recipient_dip_id = ? GROUP BY 1",
                [SUP],
            ).fetchall()
        )
    return {
        "acknowledged": int(delivered),
        **{f"attempts_http_{k}": v for k, v in attempts.items()},
    }


# --- the platform -------------------------------------------------------------------------------
def platform_counts(env: InboundEnv, schema: str) -> dict[str, int]:
    with psycopg.connect(f"{PG}/{env.database}", autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}", public')
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT transaction_id) FROM messaging_message "
            "WHERE direction = 'inbound'"
        ).fetchone() or (0, 0)
        states: dict[str, int] = dict(
            conn.execute(
                "SELECT state, count(*) FROM messaging_message WHERE direction = 'inbound' "
                "GROUP BY 1"
            ).fetchall()
        )
        endpoint = conn.execute(
            "SELECT state, consecutive_failures FROM messaging_inbound_clientendpoint"
        ).fetchone()
    return {
        "stored": int(stored),
        "distinct_transactions": int(distinct),
        **{f"state:{k}": int(v) for k, v in states.items()},
        "endpoint_paused": int(bool(endpoint and endpoint[0] == "paused")),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--messages", type=int, default=500)
    ap.add_argument("--send-seconds", type=float, default=30.0, help="spread the sends over")
    ap.add_argument("--timeout", type=float, default=180.0, help="for everything to arrive")
    a = ap.parse_args()
    n = a.messages
    system = ClientSystem()
    client = ClientServer(system)
    env = InboundEnv("drill_inbound", 5, settings_module="bench.inbound_drill_settings")
    mpans = mpan_cores(25)
    t0 = time.monotonic()
    with env:
        log(f"database {env.database}, Redis {env.redis_url}, logs in {env.folder}")
        info = env.create_database("--endpoint-url", client.url)
        system.secret = info["secret"]
        client.up()
        sandbox = start_sandbox(env, f"{env.web}/dip/inbound/{info['token']}/", mpans)
        ca = env.folder / "dip-ca.pem"
        ca.write_bytes(httpx.get(f"{sandbox}/sandbox/ca.pem", timeout=10).content)
        env.extra_env["DCP_DIP_TRUST_ROOTS"] = str(ca)
        env.start_web(workers=2, threads=4)
        env.start_worker()
        env.start_beat()
        identity = sender_identity(sandbox)
        log(f"up in {time.monotonic() - t0:.0f}s; sending {n} messages over {a.send_seconds:.0f}s")

        sent: dict[str, int] = {}
        sender = threading.Thread(
            target=lambda: sent.update(
                accepted=send_all(sandbox, identity, mpans, n, a.send_seconds)
            ),
            daemon=True,
        )
        sender.start()
        step = a.send_seconds / 6
        time.sleep(step)
        log("FAULT: kill -9 the worker")
        env.kill_worker()
        time.sleep(step)
        log("worker restarted; FAULT: FLUSHDB the drill's Redis db")
        env.start_worker()
        env.flush_redis()
        time.sleep(step / 2)
        log("FAULT: client endpoint down")
        client.down()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(1)
            if platform_counts(env, info["schema"])["endpoint_paused"]:
                log("the platform paused the endpoint")
                break
        else:
            log("the endpoint was not paused within 60 s")
        log("client endpoint back up; resuming it")
        client.up()
        resumed = json.loads(env.run(["-m", "bench.inbound_setup", "--resume"]).splitlines()[-1])
        log(f"resumed {resumed['resumed']} endpoint(s)")
        sender.join()
        log(f"sandbox accepted {sent.get('accepted', 0)} of {n}")

        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline:
            with system.lock:
                got = len(system.messages)
            if got >= n:
                break
            time.sleep(1)
        sandbox_admin(sandbox, "POST", "/admin/drain", json={"timeout": 30})
        time.sleep(2)  # let in-flight pushes land (duplicates would show now)
        counts = platform_counts(env, info["schema"])
        acks = sandbox_acknowledged(env)
        with system.lock:
            delivered, pushes = len(system.messages), sum(system.messages.values())
            unique_ids = len(system.ids)
            redelivered = sum(c - 1 for c in system.ids.values() if c > 1)
            split = sum(1 for ids in system.ids_of.values() if len(ids) > 1)
            bad = system.bad_signatures
        figures = {
            "N": n,
            "accepted_by_sandbox": sent.get("accepted", 0),
            "stored": counts["stored"],
            "distinct_transactions": counts["distinct_transactions"],
            "acknowledged": acks["acknowledged"],
            "delivered_to_client": delivered,
            "client_2xx_pushes": pushes,
            "unique_webhook_ids": unique_ids,
            "messages_under_two_webhook_ids": split,
            "same_webhook_id_redelivered": redelivered,
            "bad_signatures": bad,
            **{k: v for k, v in counts.items() if k.startswith("state:")},
            **{k: v for k, v in acks.items() if k.startswith("attempts")},
            "seconds": round(time.monotonic() - t0, 1),
        }
    print(json.dumps(figures, indent=2))
    checks = {
        "stored == N": figures["stored"] == n,
        "no duplicate transactions stored": figures["distinct_transactions"] == n,
        "acknowledged == N": figures["acknowledged"] == n,
        "delivered to client == N": delivered == n,
        # A push whose 2xx was lost (worker kill -9 after the POST, endpoint closed mid-answer)
        # is sent again under the SAME webhook-id — the idempotency key clients dedupe on
        # (at-least-once, docs/inbound.md). A message under two webhook-ids, or more unique
        # webhook-ids than messages, would be a real duplicate.
        "no duplicates at the client (by webhook-id)": unique_ids == n and split == 0,
        "every signature verified": bad == 0,
    }
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    ok = all(checks.values())
    print("DRILL PASSED" if ok else "DRILL FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
