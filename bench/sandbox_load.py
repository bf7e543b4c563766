"""Load generator for the sandbox bench (its own process).

``--target sandbox``: signed Send API batches (``POST /dip-channel/IF-021``, X-API-Key +
X-DIP-* headers) from the DCP on behalf of an SDS. ``--target direct``: the same batch bytes
POSTed straight to the receiver (the floor). Prints one JSON line: started, finished, batches,
messages, statuses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson

from dip.samples import make_message
from dip.signing import SigningIdentity, sign_request

MARK = b"ZZZZZZZZZZZZZZZZ"


def build_batches(
    n: int, batch: int, sender: str, dcp: str, mpan: str, periods: int
) -> list[bytes]:
    template = make_message(
        "IF-021",
        sender_dip_id=sender,
        sender_role="SDS",
        dcp_dip_id=dcp,
        mpan_core=mpan,
        rng=random.Random(1),
        periods=periods,
    )
    s1 = template["payload"]["CommonBlock"]["S1"]
    s1["senderUniqueReference"] = (
        s1["senderUniqueReference"].rsplit("-", 1)[0] + "-" + MARK.decode()
    )
    raw = orjson.dumps(template)
    salt = random.randrange(10**6)
    items = [raw.replace(MARK, f"{salt:06d}{i:010d}".encode()) for i in range(n)]
    return [b"[" + b",".join(items[i : i + batch]) + b"]" for i in range(0, n, batch)]


async def run(args: argparse.Namespace) -> dict[str, object]:
    bodies = build_batches(
        args.messages, args.batch, args.sender, args.dcp, args.mpan, args.periods
    )
    identity = None
    if args.target == "sandbox":
        identity = SigningIdentity.from_pem(
            key_pem=Path(args.key).read_bytes(), cert_pem=Path(args.cert).read_bytes()
        )
    url = args.url
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                headers = {"Content-Type": "application/json"}
                if identity is not None:
                    headers |= sign_request(method="POST", url=url, body=body, identity=identity)
                    headers["X-API-Key"] = args.api_key
                response = await client.post(url, content=body, headers=headers)
                statuses[response.status_code] += 1

        started = time.time()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        finished = time.time()
    return {
        "started": started,
        "finished": finished,
        "batches": len(bodies),
        "messages": args.messages,
        "statuses": dict(statuses),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--target", choices=("sandbox", "direct"), required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--periods", type=int, default=12)
    p.add_argument("--sender", default="1409010001")
    p.add_argument("--dcp", default="3009012345")
    p.add_argument("--mpan", default="2100000123459")
    p.add_argument("--api-key", default="bench-dcp-key")
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
