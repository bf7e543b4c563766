"""Load generator for the outbound bench (its own process): POSTs batches of IF-021 messages to
the client API (``Api-Key`` auth, tenant Host) at an offered rate (0 = as fast as it can, with
``--concurrency`` requests in flight). Messages are built before the clock starts. Prints one
JSON line: started, finished, statuses, and [submission_id, wall time of the 202] per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

import httpx
import orjson

from bench.outbound_env import INTERFACE, make_items, mpans


async def run(args: argparse.Namespace) -> dict[str, Any]:
    items = make_items(args.dip_id, mpans(args.mpans), args.messages)
    bodies = [
        orjson.dumps(
            {
                "dip_id": args.dip_id,
                "interface_id": INTERFACE,
                "messages": items[i : i + args.batch],
            }
        )
        for i in range(0, len(items), args.batch)
    ]
    headers = {
        "Host": args.host,
        "Authorization": f"Api-Key {args.key}",
        "Content-Type": "application/json",
    }
    url = f"{args.web}/api/v1/outbound/messages/"
    interval = args.batch / args.rate if args.rate > 0 else 0.0
    statuses: Counter[int] = Counter()
    accepted: list[tuple[int, float]] = []
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        started = time.time()
        semaphore = asyncio.Semaphore(args.concurrency)

        async def one(index: int, body: bytes) -> None:
            async with semaphore:
                response = await client.post(url, content=body, headers=headers)
                statuses[response.status_code] += 1
                if response.status_code == 202:
                    accepted.append((response.json()["submission_id"], time.time()))

        tasks = []
        for index, body in enumerate(bodies):
            delay = started + index * interval - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, body)))
        await asyncio.gather(*tasks)
        finished = time.time()
    return {
        "started": started,
        "finished": finished,
        "statuses": dict(statuses),
        "accepted": accepted,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--web", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--dip-id", required=True)
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--rate", type=float, default=0, help="offered messages/s (0 = max)")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--mpans", type=int, default=200)
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
