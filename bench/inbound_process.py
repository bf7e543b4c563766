"""Inbound processing from a backlog: ``python -m bench.inbound_process [--messages N]``.

Creates its own database (``opendcp_bench_process``, dropped at the end; Redis db 6), captures
``--messages`` IF-021 messages through the real webhook (Django test client, signed callbacks
of 10; 500 MPANs, distinct content, so no duplicate rule fires), then, in this one process
(one core for the Python side; PostgreSQL runs beside it):

* floor: a minimal validate + update loop over the same backlog — read and parse each raw body
  once, ``validate_message`` each element, one ``UPDATE … FROM jsonb_to_recordset`` of the
  findings per 250 messages (the state untouched);
* full: ``messaging.inbound.processing.process_messages`` in tasks of 500 ids (what the
  nudge and the sweeper enqueue): claim, L2-L4, duplicate checks, out-of-order check,
  transitions, exceptions, status replies.

Prints one JSON line (msg/s wall and per CPU-second of this process, both sides, and the
statements per task). ``--profile`` prints a cProfile of the full run as well.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.inbound_env import InboundEnv
from bench.sections.inbound import trust_files

TASK = 500
FLOOR_CHUNK = 250


def bodies(n_messages: int, recipient: str, batch: int = 10, seed: int = 11) -> list[bytes]:
    from dip.envelope import serialise_batch, stamp_d0
    from dip.identifiers import with_check_digit
    from dip.samples import make_message

    rng = random.Random(seed)
    mpans = [with_check_digit(f"21{n:010d}") for n in range(1, 501)]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    out = []
    for c in range(0, n_messages, batch):
        items = []
        for i in range(c, min(c + batch, n_messages)):
            item = make_message(
                "IF-021",
                sender_dip_id="1409010001",
                sender_role="SDS",
                dcp_dip_id="3009012345",
                mpan_core=mpans[i % len(mpans)],
                rng=rng,
                environment="UIT",
                periods=12,
                when=start + timedelta(milliseconds=100 * i),
            )
            item["payload"]["CommonBlock"]["A0"]["primaryRecipients"] = [recipient]
            s1 = item["payload"]["CommonBlock"]["S1"]
            s1["senderUniqueReference"] = (
                f"{s1['senderUniqueReference'].rsplit('-', 1)[0]}-P{seed:x}x{i}"
            )
            stamp = start.isoformat()
            items.append(
                stamp_d0(
                    item,
                    transaction_id=f"TP{seed:x}{i:09d}",
                    transaction_timestamp=stamp,
                    publication_id="PUB-021",
                )
            )
        out.append(serialise_batch(items))
    return out


def floor(ids: list[int]) -> None:
    """Parse + validate + one UPDATE per chunk: the least any processing must do."""
    import orjson
    from django.db import connection, transaction

    from dip.codes import Side
    from dip.envelope import parse_batch
    from dip.validation import ValidationContext, validate_message
    from messaging import services as store
    from messaging.models import Message, RawBody

    for start in range(0, len(ids), FLOOR_CHUNK):
        chunk = ids[start : start + FLOOR_CHUNK]
        with transaction.atomic():
            rows = list(Message.objects.filter(pk__in=chunk).order_by("id"))
            parsed: dict[int, Any] = {
                raw.pk: parse_batch(store.raw_bytes(raw), side=Side.RCP).messages
                for raw in RawBody.objects.filter(pk__in={m.raw_id for m in rows})
            }
            out = []
            for m in rows:
                item = parsed[m.raw_id][m.raw_index or 0]
                ctx = ValidationContext(side=Side.RCP, environment=m.environment, now=m.created)
                result = validate_message(item, ctx)
                out.append({"id": m.pk, "findings": [f.code for f in result.findings]})
            with connection.cursor() as cur:
                cur.execute(
                    "UPDATE messaging_message m SET findings = r.findings "
                    "FROM jsonb_to_recordset(%s::jsonb) AS r(id bigint, findings jsonb) "
                    "WHERE m.id = r.id",
                    [orjson.dumps(out).decode()],
                )


def explain(ids: list[int]) -> None:
    from django.db import connection

    from messaging.inbound.batch import NEWER_SQL
    from messaging.models import Message

    rows = list(Message.objects.filter(pk__in=ids).values_list("id", "mpan_core", "interface_id"))
    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + NEWER_SQL, [list(c) for c in zip(*rows, strict=True)]
        )
        print("\n".join(r[0] for r in cur.fetchall()))


def timed(fn: Any, *args: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the order check")
    ap.add_argument(
        "--per-message", action="store_true", help="the one-by-one path (the previous design)"
    )
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    env = InboundEnv("bench_process", 6)
    trust_files(env.folder)
    env.extra_env["DCP_DIP_TRUST_ROOTS"] = str(env.folder / "ca.pem")
    env.extra_env["DCP_INBOUND_SEND_L4_STATUS"] = "0"
    with env:
        setup = env.create_database()
        os.environ.update(env.env)
        import django

        django.setup()
        from django.db import connection
        from django.db.models import Count
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django_tenants.utils import schema_context

        from dip.signing import SigningIdentity, sign_request
        from messaging.inbound import processing
        from messaging.models import Message

        identity = SigningIdentity.from_pem(
            key_pem=(env.folder / "dip.key").read_bytes(),
            cert_pem=(env.folder / "dip.crt").read_bytes(),
        )
        url = f"{env.web}/dip/inbound/{setup['token']}/"
        client = Client()
        t0 = time.perf_counter()
        for body in bodies(a.messages, setup["dip_id"]):
            h = sign_request(method="POST", url=url, body=body, identity=identity)
            headers: dict[str, Any] = {
                f"HTTP_{k.upper().replace('-', '_')}": v for k, v in h.items()
            }
            r = client.post(
                f"/dip/inbound/{setup['token']}/", body, content_type="application/json", **headers
            )
            assert r.status_code == 201, (r.status_code, r.content[:300])
        capture_s = time.perf_counter() - t0
        with schema_context(setup["schema"]):
            ids = list(Message.objects.order_by("id").values_list("id", flat=True))
            floor_wall, floor_cpu = timed(floor, ids)
            if a.explain:
                explain(ids[-250:])
            process = processing.process_messages
            with CaptureQueriesContext(connection) as q:
                (processing.process_one_by_one if a.per_message else process)(ids[:TASK])
            statements = len(q.captured_queries)
            rest = ids[TASK:]
            prof = cProfile.Profile() if a.profile else None

            def full() -> None:
                if prof:
                    prof.enable()
                settle = processing.process_one_by_one if a.per_message else process
                for start in range(0, len(rest), TASK):
                    settle(rest[start : start + TASK])
                if prof:
                    prof.disable()

            full_wall, full_cpu = timed(full)
            left = Message.objects.filter(state="received").count()
            states = dict(Message.objects.order_by().values_list("state").annotate(n=Count("id")))
        n = len(rest)
        result = {
            "messages": len(ids),
            "capture_s": round(capture_s, 2),
            "floor_msgs_per_s": round(len(ids) / floor_wall, 1),
            "floor_msgs_per_cpu_s": round(len(ids) / max(floor_cpu, 1e-9), 1),
            "full_msgs_per_s": round(n / full_wall, 1),
            "full_msgs_per_cpu_s": round(n / max(full_cpu, 1e-9), 1),
            "statements_per_task": statements,
            "task_size": TASK,
            "left_received": left,
            "states": states,
        }
        if prof:
            pstats.Stats(prof).sort_stats("cumtime").print_stats(a.top)
        connection.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
