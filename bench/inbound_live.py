"""Inbound at a steady rate with the worker on the same box:
``python -m bench.inbound_live [--rate 100] [--duration 60]``.

Own database (``opendcp_bench_live``, dropped at the end) and Redis db 7; gunicorn as in
section ``inbound`` and a Celery worker as ``make run`` starts it (2 processes, queues inbound,
delivery, housekeeping). ``bench.inbound_load --distinct`` offers valid IF-021 callbacks (batch
of 10, 500 MPANs, no two alike) at ``--rate`` msg/s for ``--duration`` s; then we wait for the
backlog to drain and read, from the database:

* our L4 response time per message: received (``Message.created``) → the status decision
  recorded (``StatusReply.created``: the reply queued, or withheld under the issues-only
  policy). The DIP send itself is not part of this run (no DIP status endpoint here; the
  sender picks queued replies up on the processing task's commit);
* the acknowledgement latency the load generator saw meanwhile (the webhook's p99 with the
  worker processing the same traffic);
* with a client endpoint (a local server answering 204; ``--no-client`` leaves it out): the
  push latency, received → the client system got the event.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg

from bench.inbound_env import PG, InboundEnv, free_port
from bench.sections.inbound import trust_files


class Client:
    """The client system: answers 204 to every push, notes when each message arrived."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        seen = self.at

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message_id = str(json.loads(body).get("data", {}).get("message_id"))
                seen.setdefault(message_id, time.time())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--drain-timeout", type=float, default=300.0)
    ap.add_argument("--no-client", action="store_true", help="no client endpoint (no pushes)")
    a = ap.parse_args()
    client = None if a.no_client else Client()
    env = InboundEnv("bench_live", 7)
    folder = env.folder
    trust_files(folder)
    env.extra_env["DCP_DIP_TRUST_ROOTS"] = str(folder / "ca.pem")
    env.extra_env["DCP_INBOUND_SEND_L4_STATUS"] = "0"
    with env:
        setup = env.create_database(*(["--endpoint-url", client.url] if client else []))
        env.start_web()
        env.start_worker()
        url = f"{env.web}/dip/inbound/{setup['token']}/"

        def offer(duration: float) -> dict[str, Any]:
            args = ["-m", "bench.inbound_load", "--url", url, "--key", str(folder / "dip.key")]
            args += ["--cert", str(folder / "dip.crt"), "--rate", str(a.rate)]
            args += ["--duration", str(duration), "--distinct", setup["dip_id"]]
            args += ["--max-calls", "100000"]
            run = subprocess.run(
                [sys.executable, *args], env=env.env, capture_output=True, timeout=900
            )
            if run.returncode:
                raise RuntimeError(run.stderr.decode()[-2000:])
            result: dict[str, Any] = json.loads(run.stdout.decode().splitlines()[-1])
            return result

        schema = setup["schema"]
        offer(4.0)  # warm-up: every gunicorn thread and worker process connected, caches warm
        time.sleep(2.0)
        with psycopg.connect(f"{PG}/{env.database}", autocommit=True) as conn:
            first = conn.execute(f"SELECT coalesce(max(id), 0) FROM {schema}.messaging_message")
            after = first.fetchone()[0]  # type: ignore[index]
        load = offer(a.duration)
        deadline = time.monotonic() + a.drain_timeout
        with psycopg.connect(f"{PG}/{env.database}", autocommit=True) as conn:
            while True:
                row = conn.execute(
                    f"SELECT count(*) FILTER (WHERE state = 'received'), count(*) "
                    f"FROM {schema}.messaging_message"
                ).fetchone()
                assert row is not None
                if row[0] == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            left, total = row
            while client is not None and len(client.at) < total and time.monotonic() < deadline:
                time.sleep(0.5)
            created: dict[str, float] = dict(
                conn.execute(
                    f"SELECT public_id::text, extract(epoch FROM created) "
                    f"FROM {schema}.messaging_message WHERE id > %s",
                    [after],
                ).fetchall()
            )
            rows = conn.execute(
                f"SELECT extract(epoch FROM r.created - m.created) "
                f"FROM {schema}.messaging_inbound_statusreply r "
                f"JOIN {schema}.messaging_message m ON m.id = r.message_id WHERE m.id > %s",
                [after],
            ).fetchall()
            states: dict[str, int] = dict(
                conn.execute(
                    f"SELECT state, count(*) FROM {schema}.messaging_message GROUP BY 1"
                ).fetchall()
            )
    delays = [float(r[0]) for r in rows]
    pushes = [
        at - float(created[m]) for m, at in (client.at if client else {}).items() if m in created
    ]
    print(
        json.dumps(
            {
                "rate": a.rate,
                "duration": a.duration,
                "acknowledged": load["acknowledged_messages"],
                "ack_p50_ms": load["p50_ms"],
                "ack_p99_ms": load["p99_ms"],
                "stored": total,
                "left_received": left,
                "decided": len(delays),
                "l4_p50_s": round(pct(delays, 50), 3),
                "l4_p90_s": round(pct(delays, 90), 3),
                "l4_max_s": round(max(delays, default=0.0), 3),
                "states": states,
                "pushed": len(pushes),
                "push_p50_s": round(pct(pushes, 50), 3),
                "push_p90_s": round(pct(pushes, 90), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
