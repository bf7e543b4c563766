"""No-op webhook receiver for the sandbox bench: counts messages, answers 201 at once.

Run as its own process: ``python -m bench.sandbox_receiver --port N``. ``GET /count`` returns
``{"messages", "requests", "first", "last"}`` (epoch seconds of the first/last callback).
"""

from __future__ import annotations

import argparse
import time

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STATE = {"messages": 0, "requests": 0, "first": 0.0, "last": 0.0}
REPLY = orjson.dumps({"messageArray": [], "timestamp": "2026-01-01T00:00:00+00:00"})


async def hook(request: Request) -> Response:
    body = await request.body()
    items = orjson.loads(body)
    now = time.time()
    if not STATE["requests"]:
        STATE["first"] = now
    STATE["requests"] += 1
    STATE["messages"] += len(items) if isinstance(items, list) else 1
    STATE["last"] = now
    return Response(REPLY, 201, media_type="application/json")


async def count(request: Request) -> Response:
    return Response(orjson.dumps(STATE), media_type="application/json")


async def reset(request: Request) -> Response:
    STATE.update(messages=0, requests=0, first=0.0, last=0.0)
    return Response(b"{}", media_type="application/json")


app = Starlette(
    routes=[
        Route("/count", count, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/{path:path}", hook, methods=["POST"]),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
