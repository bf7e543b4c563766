"""The wording switch: ``--wording terse`` rewrites every free-text message the sandbox sends
(Send API answers, status messages) while keeping the response codes, so a client that decides
on our words instead of the codes fails its tests (the real DIP's wording is not published and
may differ from ours, PROTOCOL.md §5.2a).

``spec`` (default): ``"MSG1006 - Sender Unique Reference Duplicated"`` and our help texts;
``terse``: ``"MSG1006 (ref 5f2c01aa)"``, help ``"ref 5f2c01aa"`` — nothing to match on but the
code.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dip.codes import parse_code
from dip.responses import StandardResponse, StandardResponseBody

WORDINGS = ("spec", "terse")


def reword_body(body: StandardResponseBody) -> StandardResponseBody:
    if body.message is None:
        return body
    ref = f"{zlib.crc32(body.message.encode()):08x}"
    code = body.code or "X"
    return dataclasses.replace(body, message=f"{code} (ref {ref})", help=f"ref {ref}")


def reword(response: StandardResponse) -> StandardResponse:
    return dataclasses.replace(
        response, messageArray=tuple(reword_body(b) for b in response.messageArray)
    )


def reword_json(content: bytes) -> bytes:
    """A StandardResponse (or bare array) as bytes, reworded; anything else unchanged."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return content
    items = data.get("messageArray") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return content
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("message"), str):
            ref = f"{zlib.crc32(item['message'].encode()):08x}"
            code = parse_code(item["message"]) or "X"
            item["message"], item["help"] = f"{code} (ref {ref})", f"ref {ref}"
    return orjson.dumps(data)


class RewordMiddleware:
    """ASGI: rewrite the JSON answers of the DIP API (not /admin, not the pages) when the
    sandbox's wording is ``terse``. Streams that are not JSON (a dropped response) pass as is."""

    def __init__(self, app: ASGIApp, wording: Callable[[], str]) -> None:
        self.app = app
        self.wording = wording

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if (
            scope["type"] != "http"
            or self.wording() != "terse"
            or path.startswith(("/admin", "/healthz", "/readyz", "/sandbox", "/ui"))
        ):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                sent = dict(message.get("headers") or [])
                if b"json" in sent.get(b"content-type", b""):
                    start = dict(message)
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = reword_json(b"".join(chunks))
                headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, wrapped)
