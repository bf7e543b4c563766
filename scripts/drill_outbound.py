"""Outbound fault drills: real processes on loopback, faults injected at the DIP sandbox, and
every message accounted for.

    .venv/bin/python scripts/drill_outbound.py [--messages N] [--unavailable R] [--lost R]
                                               [--reject R] [--duplicates D] [--no-kill]
    .venv/bin/python scripts/drill_outbound.py --outage SECONDS [--messages N]

Brings up (``bench.outbound_env``) a dedicated database, the DIP sandbox with its wording
switched to ``terse`` (every free text rewritten, only the codes left to decide on), gunicorn, a
Celery worker and beat on a dedicated Redis db (7, the outage drill 6: both may run at once).

**Mixed drill** (default): the sandbox answers 503 to a share of sends (``--unavailable``),
processes and then drops the connection for a share of the rest (``--lost``: the answer is
lost), and refuses a share of the batches it would accept whole with generic per-item codes
(``--reject``). ``--duplicates`` messages reuse a senderUniqueReference the DIP already holds
(sent to the sandbox directly beforehand). Mid-run the worker is ``kill -9``ed and Redis
flushed. Checks, once everything is final:

    every valid message accepted by the platform and held once by the sandbox, 0 rejected;
    every duplicate rejected (DUPLICATE exception), 0 accepted; nothing pending or in another
    state; per-MPAN order kept at the sandbox; no exception but the duplicates'.

**Outage drill** (``--outage S``, time-compressed: S seconds stand for 72 hours): the sandbox
answers 503 to every send for S seconds while the client keeps submitting. Checks: the
availability API says "DIP unavailable since …" from detection to the end of the outage, every
message accepted exactly once afterwards, in per-MPAN order, 0 failed, the DIP available again.

Exit 0 when all hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.outbound_env import INTERFACE, EnvConfig, OutboundEnv

MIXED_REDIS_DB, OUTAGE_REDIS_DB = 7, 6  # dedicated to these drills
GOOD = {"accepted", "settled"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--batch", type=int, default=50, help="messages per client API request")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for final states")
    p.add_argument("--unavailable", type=float, default=0.3, help="share of sends answered 503")
    p.add_argument("--lost", type=float, default=0.3, help="share processed, answer dropped")
    p.add_argument("--reject", type=float, default=0.1, help="share refused whole (MSG1000)")
    p.add_argument("--duplicates", type=int, default=-1, help="default: N/200, at least 2")
    p.add_argument("--no-kill", dest="kill", action="store_false", help="no worker kill -9")
    p.add_argument("--outage", type=float, default=0.0, help="outage drill: seconds of 503s")
    args = p.parse_args(argv)
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    if args.outage > 0:
        return outage_drill(args, say, started)
    return mixed_drill(args, say, started)


# --- shared -----------------------------------------------------------------------------------
def submit_all(
    env: OutboundEnv, chunks: list[list[dict[str, Any]]], *, prefix: str, pace: float = 0.0
) -> tuple[list[str], list[str], ThreadPoolExecutor, list[Any]]:
    """POST the chunks from two client threads (Idempotency-Key per chunk); ``pace`` seconds
    between a thread's requests."""
    submitted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    t0 = time.monotonic()

    def post(index: int) -> None:
        if pace:  # request `index` starts `pace` s after the previous pair, not after its end
            time.sleep(max(0.0, t0 + pace * (index // 2) - time.monotonic()))
        error = ""
        with httpx.Client(timeout=60) as client:
            for attempt in range(5):
                try:
                    r = env.submit(client, chunks[index], key=f"{prefix}-{index}")
                except httpx.HTTPError as exc:
                    error = repr(exc)
                    time.sleep(0.5 * (attempt + 1))
                    continue
                with lock:
                    if r.status_code in (200, 202):
                        submitted.extend(m["id"] for m in r.json()["messages"])
                    else:
                        refused.append(f"{r.status_code} {r.text[:200]}")
                return
        with lock:
            refused.append(error)

    pool = ThreadPoolExecutor(max_workers=2)
    futures = [pool.submit(post, i) for i in range(len(chunks))]
    return submitted, refused, pool, futures


def order_violations(env: OutboundEnv, surs: set[str]) -> int:
    """Per MPAN, the sandbox must have taken our messages in the order we received them."""
    platform_id = {sur: i for i, sur, _, _ in env.platform_messages()}
    last: dict[str, int] = defaultdict(int)
    bad = 0
    for _, mpan, sur in env.sandbox_rows():
        if sur not in surs or sur not in platform_id:
            continue
        if platform_id[sur] < last[mpan]:
            bad += 1
        last[mpan] = max(last[mpan], platform_id[sur])
    return bad


def table(rows: list[tuple[str, Any]]) -> None:
    print()
    print(f"{'check':<46} {'value':>10}")
    print("-" * 57)
    for name, value in rows:
        print(f"{name:<46} {value!s:>10}")


# --- the mixed drill --------------------------------------------------------------------------
def mixed_drill(args: argparse.Namespace, say: Any, started: float) -> int:
    n, batch = args.messages, max(1, min(args.batch, args.messages))
    dups = args.duplicates if args.duplicates >= 0 else max(2, n // 200)
    config = EnvConfig(
        name="drill",
        redis_db=MIXED_REDIS_DB,
        mpan_count=50,
        sandbox_wording="terse",
        extra_env={
            # A message refused alone with generic codes is retried; at a 10 % fault rate
            # 12 refusals in a row (1e-12) would be the DIP refusing it.
            "DCP_OUTBOUND_GENERIC_REJECT_LIMIT": "12",
        },
    )
    env = OutboundEnv(config)
    say(f"setting up (database {env.database}, redis db {config.redis_db}, logs {env.folder})")
    with env:
        say(f"up: web {env.web}, sandbox {env.sandbox}, tenant {env.host}")
        items = env.messages(n + dups)
        valid, taken = items[:n], items[n:]
        held = presend(env, taken)
        say(f"{held} references sent to the DIP directly first (to be reused: duplicates)")
        duplicates = [reuse_reference(v, t) for v, t in zip(valid[:dups], taken, strict=False)]
        env.add_fault(side="send", kind="error", status=503, rate=args.unavailable, retry_after=1)
        env.add_fault(side="send", kind="drop_after", rate=args.lost)
        if args.reject:
            env.add_fault(side="send", kind="reject_batch", rate=args.reject)
        say(
            f"faults: {args.unavailable:.0%} 503, {args.lost:.0%} of the rest processed then "
            f"dropped, {args.reject:.0%} refused whole; wording terse"
        )
        mixed = list(valid)
        rng = random.Random(7)
        for d in duplicates:  # spread through the run
            mixed.insert(rng.randrange(len(mixed) + 1), d)
        chunks = [mixed[i : i + batch] for i in range(0, len(mixed), batch)]
        submitted, refused, pool, futures = submit_all(env, chunks, prefix="drill")
        if args.kill:
            threshold, deadline = max(1, n // 4), time.monotonic() + 180
            while time.monotonic() < deadline:
                if env.platform_counts().get("state:accepted", 0) >= threshold or all(
                    f.done() for f in futures
                ):
                    break
                time.sleep(0.05)
            at = env.platform_counts().get("state:accepted", 0)
            env.kill_worker()
            say(f"kill -9 worker (pool included) with {at}/{n} accepted")
            env.flush_redis()
            say(f"FLUSHDB redis db {config.redis_db} (broker queues, nudge flags, cache)")
            time.sleep(1.0)
            env.start_worker()
            say("worker restarted")
        for f in futures:
            f.result()
        pool.shutdown()
        say(f"submitted {len(submitted)} messages ({len(refused)} requests refused)")
        counts = env.wait_settled(len(submitted), args.timeout)
        sandbox = env.sandbox_counts()
        messages = env.platform_messages()
        exceptions = env.exceptions()
        valid_surs = {m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"] for m in valid}
        dup_surs = {m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"] for m in duplicates}
        order = order_violations(env, valid_surs)
        say("final")

    state_of = {sur: state for _, sur, state, _ in messages}
    valid_ok = sum(1 for s in valid_surs if state_of.get(s) in GOOD)
    valid_rejected = sum(1 for s in valid_surs if state_of.get(s) == "rejected")
    dup_accepted = sum(1 for _, s, st, _ in messages if s in dup_surs and st in GOOD)
    dup_rejected = sum(1 for _, s, st, _ in messages if s in dup_surs and st == "rejected")
    not_final = sum(1 for _, _, st, _ in messages if st not in GOOD | {"rejected", "failed"})
    failed = sum(1 for _, _, st, _ in messages if st == "failed")
    other_exc = {k: v for k, v in exceptions.items() if not k.startswith("duplicate:MSG1006")}
    attempts = {k[5:]: v for k, v in counts.items() if k.startswith("http:")}
    table(
        [
            ("valid messages submitted (202)", n),
            ("valid accepted/settled by the platform", valid_ok),
            ("valid rejected", valid_rejected),
            ("failed", failed),
            ("duplicates submitted / rejected (DUPLICATE)", f"{len(dup_surs)}/{dup_rejected}"),
            ("duplicates accepted", dup_accepted),
            (
                "held by the sandbox: rows / distinct SURs",
                f"{sandbox['rows']}/{sandbox['distinct_surs']}",
            ),
            ("  expected: valid + references sent directly", n + held),
            ("not final (pending in outbox)", f"{not_final} ({counts.get('pending', 0)})"),
            ("per-MPAN order violations at the sandbox", order),
            ("exceptions other than the duplicates'", sum(other_exc.values())),
        ]
    )
    print(f"{'Send API attempts by HTTP status (0 = lost)':<46} {attempts}")
    if refused:
        print("refused requests:", refused[:5])
    if other_exc:
        print("other exceptions:", other_exc)
    ok = (
        valid_ok == n
        and valid_rejected == 0
        and failed == 0
        and dup_accepted == 0
        and dup_rejected == len(dup_surs)
        and sandbox["rows"] == sandbox["distinct_surs"] == n + held
        and not_final == 0
        and counts.get("pending", 0) == 0
        and order == 0
        and not other_exc
        and not refused
    )
    print(f"\ndrill {'PASSED' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s")
    return 0 if ok else 1


def presend(env: OutboundEnv, items: list[dict[str, Any]]) -> int:
    """Send ``items`` to the sandbox directly (as the SDS, with its key and certificate): the
    DIP then holds their references before the platform ever sends them."""
    from dip.client import DipClient
    from dip.signing import SigningIdentity

    if not items:
        return 0
    identity = SigningIdentity.from_pem(
        key_pem=(env.folder / "signing.key").read_bytes(),
        cert_pem=(env.folder / "signing.crt").read_bytes(),
    )
    for m in items:
        m["payload"]["CommonBlock"]["S1"]["DIPConnectionProviderID"] = None
    body = orjson.dumps(items)
    with DipClient(base_url=env.sandbox, api_key=env.info["dip_api_key"], identity=identity) as c:
        result = c.send(INTERFACE, body)
    if result.status_code != 201:
        raise RuntimeError(f"direct send refused: {result.status_code} {result.content[:300]!r}")
    return len(items)


def reuse_reference(valid: dict[str, Any], taken: dict[str, Any]) -> dict[str, Any]:
    """A new message (a valid one's content) under a reference the DIP already holds."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(valid))
    sur = taken["payload"]["CommonBlock"]["S1"]["senderUniqueReference"]
    copy["payload"]["CommonBlock"]["S1"]["senderUniqueReference"] = sur
    return copy


# --- the outage drill -------------------------------------------------------------------------
def outage_drill(args: argparse.Namespace, say: Any, started: float) -> int:
    n, batch, outage = args.messages, max(1, min(args.batch, args.messages)), args.outage
    config = EnvConfig(
        name="drill_outage",
        redis_db=OUTAGE_REDIS_DB,
        mpan_count=20,
        sandbox_wording="terse",
        extra_env={
            # Time-compressed: `outage` seconds stand for 72 hours. Three transport/5xx failures
            # over a second make an outage, a probe every second, and a message fails only
            # after 3 x the outage + 60 s (as 7 days is to 72 hours, and more).
            "DCP_OUTBOUND_OUTAGE_AFTER_FAILURES": "3",
            "DCP_OUTBOUND_OUTAGE_AFTER_SECONDS": "1",
            "DCP_OUTBOUND_PROBE_INTERVAL": "1",
            "DCP_OUTBOUND_GIVE_UP_AFTER": str(3 * outage + 60),
            "DCP_OUTBOUND_DRAIN_RATE": "400",
        },
    )
    env = OutboundEnv(config)
    say(f"setting up (database {env.database}, redis db {config.redis_db}, logs {env.folder})")
    with env:
        say(f"up: web {env.web}, sandbox {env.sandbox}, tenant {env.host}")
        items = env.messages(n)
        chunks = [items[i : i + batch] for i in range(0, n, batch)]
        # Submissions spread over before, during and after the outage.
        pace = (outage + 4.0) / max(1, len(chunks) / 2)
        polls: list[tuple[float, bool, str, int]] = []
        stop = threading.Event()

        def poll() -> None:
            with httpx.Client(timeout=10) as client:
                while not stop.is_set():
                    try:
                        a = env.availability(client)
                        t = time.monotonic()
                        polls.append((t, bool(a["available"]), str(a["summary"]), a["queued"]))
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.25)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        submitted, refused, pool, futures = submit_all(env, chunks, prefix="outage", pace=pace)
        time.sleep(1.0)
        env.add_fault(side="send", kind="down", duration=outage, retry_after=1)
        down_from = time.monotonic()
        say(f"DIP down: every send answered 503 for {outage:g} s (= 72 hours)")
        time.sleep(outage)
        down_to = time.monotonic()
        say("DIP back")
        for f in futures:
            f.result()
        pool.shutdown()
        say(f"submitted {len(submitted)} messages ({len(refused)} requests refused)")
        counts = env.wait_settled(len(submitted), args.timeout)
        time.sleep(0.6)
        stop.set()
        poller.join(5)
        sandbox = env.sandbox_counts()
        messages = env.platform_messages()
        surs = {m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"] for m in items}
        order = order_violations(env, surs)
        exceptions = env.exceptions()
        say("final")

    detected = next((t for t, up, _, _ in polls if not up and t >= down_from), None)
    during = [p for p in polls if detected is not None and detected <= p[0] < down_to - 0.5]
    shown = bool(during) and all(
        not up and s.startswith("DIP unavailable since") for _, up, s, _ in during
    )
    last = polls[-1] if polls else None
    accepted = sum(1 for _, _, st, _ in messages if st in GOOD)
    failed = sum(1 for _, _, st, _ in messages if st == "failed")
    rejected = sum(1 for _, _, st, _ in messages if st == "rejected")
    table(
        [
            ("messages submitted (202)", len(submitted)),
            ("outage detected after (s)", f"{(detected - down_from):.1f}" if detected else "never"),
            ("'DIP unavailable since' shown throughout", shown),
            ("polls during the outage", len(during)),
            ("accepted/settled by the platform", accepted),
            ("failed / rejected", f"{failed}/{rejected}"),
            (
                "held by the sandbox: rows / distinct SURs",
                f"{sandbox['rows']}/{sandbox['distinct_surs']}",
            ),
            ("per-MPAN order violations at the sandbox", order),
            ("available again at the end", bool(last and last[1])),
            ("exceptions", sum(exceptions.values())),
        ]
    )
    attempts = {k[5:]: v for k, v in counts.items() if k.startswith("http:")}
    print(f"{'Send API attempts by HTTP status':<46} {attempts}")
    ok = (
        len(submitted) == n
        and detected is not None
        and shown
        and accepted == n
        and failed == rejected == 0
        and sandbox["rows"] == sandbox["distinct_surs"] == n
        and order == 0
        and bool(last and last[1])
        and counts.get("pending", 0) == 0
        and not refused
    )
    print(f"\noutage drill {'PASSED' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
