"""Profile the webhook in-process: ``python -m bench.inbound_profile [--calls N] [--sort tottime]``.

Creates its own database (``opendcp_prof_inbound``, dropped at the end) and uses Redis db 5,
then POSTs signed IF-021 callbacks (``--batch``, default 10) through the full middleware stack
with Django's test client, counting capture statements per callback and printing a cProfile
summary (``--explain``: EXPLAIN ANALYZE of one capture)."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import time
from typing import Any

from bench.inbound_env import InboundEnv
from bench.sections.inbound import trust_files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--sort", default="cumtime")
    ap.add_argument("--top", type=int, default=45)
    ap.add_argument("--batch", type=int, default=10, help="messages per callback")
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE one capture")
    a = ap.parse_args()
    env = InboundEnv("prof_inbound", 5)
    trust_files(env.folder)
    env.extra_env["DCP_DIP_TRUST_ROOTS"] = str(env.folder / "ca.pem")
    with env:
        token = env.create_database()["token"]
        os.environ.update(env.env)
        import django

        django.setup()
        from django.db import connection
        from django.test import Client

        from bench.inbound_load import bodies
        from dip.signing import SigningIdentity, sign_request

        identity = SigningIdentity.from_pem(
            key_pem=(env.folder / "dip.key").read_bytes(),
            cert_pem=(env.folder / "dip.crt").read_bytes(),
        )
        url = f"{env.web}/dip/inbound/{token}/"
        prepared = []
        for body in bodies(a.calls + 20, a.batch, 12, 7):
            h = sign_request(method="POST", url=url, body=body, identity=identity)
            prepared.append(
                (body, {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in h.items()})
            )
        client = Client()
        from messaging.inbound import receive

        real_execute = receive._execute  # the capture runs on a raw psycopg cursor (no wrappers)
        statements: list[str] = []
        timings: list[float] = []
        mode = {"explain": False}

        def execute(sql: str, params: dict[str, Any]) -> Any:
            statements.append(sql)
            if mode["explain"]:
                import psycopg

                with psycopg.Cursor(connection.connection) as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    print("\n".join(r[0] for r in cur.fetchall()))
            t = time.perf_counter()
            try:
                return real_execute(sql, params)
            finally:
                timings.append(time.perf_counter() - t)

        receive._execute = execute

        def post(body: bytes, headers: dict[str, Any]) -> None:
            r = client.post(
                f"/dip/inbound/{token}/", body, content_type="application/json", **headers
            )
            assert r.status_code == 201, (r.status_code, r.content[:300])

        for body, headers in prepared[:20]:  # warm-up
            post(body, headers)
        statements.clear()
        post(*prepared[20])
        print(f"SQL statements per callback (capture): {len(statements)}")
        if a.explain:  # EXPLAIN ANALYZE executes: these callbacks' rows are then stored twice
            mode["explain"] = True
            for body, headers in prepared[60:61]:
                with contextlib.suppress(AssertionError):
                    post(body, headers)
            mode["explain"] = False
        timings.clear()
        t0 = time.perf_counter()
        for body, headers in prepared[21:71]:
            post(body, headers)
        per_call = (time.perf_counter() - t0) / 50
        print(
            f"unprofiled: {per_call * 1000:.2f} ms/callback, of which the capture statement "
            f"{sum(timings) / len(timings) * 1000:.3f} ms"
        )
        prof = cProfile.Profile()
        start = time.perf_counter()
        prof.enable()
        for body, headers in prepared[71:]:
            post(body, headers)
        prof.disable()
        elapsed = time.perf_counter() - start
        n = len(prepared) - 71
        print(f"{n} callbacks in {elapsed:.2f}s: {elapsed / n * 1000:.2f} ms/callback (profiled)")
        pstats.Stats(prof).sort_stats(a.sort).print_stats(a.top)
        connection.close()


if __name__ == "__main__":
    main()
