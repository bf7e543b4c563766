"""Front door of every DIP API call: faults, API key, X-DIP signature (PROTOCOL.md §3.2, §3.5).

:func:`admit` returns the caller and the raw body, or the response that ends the request:

* an injected ``send`` fault (503 "DIP down", an error status, a dropped connection, a delay);
* **401** unknown or missing ``X-API-Key``;
* **403** signature headers that do not verify (hash, date skew, certificate validity, trust
  chain, signature) - body: a StandardResponse ``MSG1000`` with the reason in ``help``.

Requests without a body (GET/DELETE) are verified as if the body were ``{}``, as the
reference clients sign them (``dip.client.EMPTY_BODY_SIGNED_AS``).
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dip.client import EMPTY_BODY_SIGNED_AS
from dip.responses import DIP_SENDER_ID, StandardResponse, body_for
from dip.signing import API_KEY, SignatureVerificationError
from dip.timeutil import now_timestamp
from sandbox.core import Sandbox
from sandbox.registry import Principal

JSON = "application/json"


class DroppedResponse(Response):
    """Start a response, then close the connection before the body (a dropped connection)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
        )
        await send({"type": "http.response.body", "body": b"[", "more_body": True})
        # Returning without completing the response makes the server close the connection.


def standard(status: int, code_text: str, help_text: str | None = None) -> Response:
    """A StandardResponse about the whole request (one item)."""
    now = now_timestamp()
    body = body_for(None, sender_id=DIP_SENDER_ID, text=code_text, help=help_text, now=now)
    return Response(StandardResponse((body,), now).to_bytes(), status, media_type=JSON)


def reject(
    sb: Sandbox, status: int, code: str, detail: str, request: Request, who: str | None
) -> None:
    sb.store.write(
        "INSERT INTO rejections (interface_id, principal, http_status, code, detail, at)"
        " VALUES (?,?,?,?,?,?)",
        (request.path_params.get("interface_id"), who, status, code, detail[:500], time.time()),
    )


def signed_url(sb: Sandbox, request: Request) -> str:
    base = sb.settings.public_url
    if not base:
        return str(request.url)
    url = base.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


async def admit(sb: Sandbox, request: Request) -> tuple[Principal, bytes] | Response:
    principal = sb.registry.principal_for_key(request.headers.get(API_KEY))
    effects = sb.faults.for_send(principal.dip_id if principal else None)
    if effects.delay:
        await asyncio.sleep(effects.delay)
    if effects.status is not None:
        if effects.status == 503:
            return Response(b"", 503, headers={"Retry-After": str(effects.retry_after)})
        return Response(b"", effects.status)
    if effects.drop:
        return DroppedResponse()
    if principal is None:
        reject(sb, 401, "MSG1000", "missing or unknown X-API-Key", request, None)
        return standard(401, "MSG1000 - Message Processing Failed", "X-API-Key missing or unknown")
    body = await request.body()
    try:
        sb.verifier.verify(
            method=request.method,
            url=signed_url(sb, request),
            body=body if body else EMPTY_BODY_SIGNED_AS,
            headers=request.headers,
        )
    except SignatureVerificationError as exc:
        reject(sb, 403, "MSG1000", f"{exc.reason}: {exc.message}", request, principal.dip_id)
        return standard(403, "MSG1000 - Message Signature Invalid", f"{exc.reason}: {exc.message}")
    return principal, body
