"""Load generator for section `inbound`: signed DIP callbacks (IF-021, unique transaction ids)
POSTed to the webhook (or the floor) at an offered rate, or as fast as ``--concurrency``
connections allow (``--rate 0``). Bodies are built and signed before the clock starts. Prints
one JSON line: messages acknowledged, elapsed, rate, latency percentiles (ms), statuses."""

from __future__ import annotations

import argparse
import copy
import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from dip.envelope import serialise_batch, stamp_d0
from dip.samples import make_message
from dip.signing import SigningIdentity, sign_request


def bodies(n_calls: int, batch: int, periods: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    template = make_message(
        "IF-021",
        sender_dip_id="1409010001",
        sender_role="SDS",
        dcp_dip_id="3009012345",
        mpan_core="2100000123459",
        rng=rng,
        environment="UIT",
        periods=periods,
    )
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    out = []
    for c in range(n_calls):
        items = []
        for i in range(batch):
            item = copy.deepcopy(template)
            s1 = item["payload"]["CommonBlock"]["S1"]
            s1["senderUniqueReference"] = f"BENCH-{seed}-{c}-{i}"
            item["payload"]["CommonBlock"]["M0"]["MPANCore"] = "2100000123459"
            items.append(
                stamp_d0(
                    item,
                    transaction_id=f"TB{seed:x}{c:07d}{i:03d}",
                    transaction_timestamp=now,
                    publication_id="PUB-021",
                )
            )
        out.append(serialise_batch(items))
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--rate", type=float, default=0.0, help="messages/s offered; 0 = max")
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--periods", type=int, default=12)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-calls", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=random.getrandbits(24))
    ap.add_argument(
        "--distinct",
        metavar="RECIPIENT_DIP_ID",
        help="valid messages for this recipient, 500 MPANs, no two alike (processing benches)",
    )
    a = ap.parse_args()
    identity = SigningIdentity.from_pem(
        key_pem=Path(a.key).read_bytes(), cert_pem=Path(a.cert).read_bytes()
    )
    calls = (int(a.rate * a.duration / a.batch) if a.rate else a.max_calls) or 1
    calls = min(calls, a.max_calls)
    prepared = []
    if a.distinct:
        from bench.inbound_process import bodies as distinct

        made = distinct(calls * a.batch, a.distinct, a.batch, a.seed)
    else:
        made = bodies(calls, a.batch, a.periods, a.seed)
    for body in made:
        h = sign_request(method="POST", url=a.url, body=body, identity=identity)
        h["Content-Type"] = "application/json"
        prepared.append((body, h))
    lat: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    client = httpx.Client(
        timeout=30, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
    )

    def one(i: int, due: float) -> None:
        body, headers = prepared[i]
        try:
            code = client.post(a.url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            code = 0
        done = time.perf_counter()
        with lock:
            lat.append((done - due) * 1000)
            statuses[code] += 1

    start = time.perf_counter()
    if a.rate:
        interval = a.batch / a.rate
        with ThreadPoolExecutor(max_workers=64) as pool:
            for i in range(calls):
                due = start + i * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(one, i, due)
    else:
        counter = iter(range(calls))
        counter_lock = threading.Lock()

        def worker() -> None:
            while True:
                with counter_lock:
                    i = next(counter, None)
                if i is None:
                    return
                one(i, time.perf_counter())

        threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elapsed = time.perf_counter() - start
    ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
    print(
        json.dumps(
            {
                "calls": calls,
                "batch": a.batch,
                "acknowledged_messages": ok * a.batch,
                "elapsed": elapsed,
                "msgs_per_s": ok * a.batch / elapsed,
                "p50_ms": pct(lat, 50),
                "p90_ms": pct(lat, 90),
                "p99_ms": pct(lat, 99),
                "statuses": {str(k): v for k, v in statuses.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
