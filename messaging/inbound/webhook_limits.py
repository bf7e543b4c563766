"""What the DIP webhook refuses before it does real work: oversized bodies and floods.

Body size. The webhook reads the body from the request stream itself, not through
``request.body`` (whose ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check answered 400 — "no retry" to the
DIP — for anything over 2.5 MiB). Up to ``INBOUND_MAX_BYTES`` is accepted; a declared
``Content-Length`` over it is refused before a byte is read, and a body without one (chunked) is
counted while it is read and refused as soon as it passes the limit, so nothing over
``INBOUND_MAX_BYTES + 1`` bytes is ever held.

Floods, counted in the shared cache (``dcp.net.ratelimit``), so the limits hold across gunicorn
processes and hosts:

* unknown channel tokens per client address: ``INBOUND_UNKNOWN_PATH_LIMIT`` a minute answer
  404; an address over it is answered 429 + Retry-After before the route table, the body or
  the database is touched;
* failed signatures per channel token: ``INBOUND_SIGNATURE_FAILURE_LIMIT`` a minute answer 400
  with a receipt row (the evidence of what was refused); past it 429 + Retry-After with no
  receipt and no database work, so junk cannot fill the disk. Verification still runs first:
  a genuine DIP delivery to a flooded token is accepted, not throttled.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from dcp.net.ratelimit import FixedWindow

CHUNK = 64 * 1024

unknown_tokens = FixedWindow(
    "inbound-unknown-token", limit=lambda: int(settings.INBOUND_UNKNOWN_PATH_LIMIT)
)
signature_failures = FixedWindow(
    "inbound-bad-signature", limit=lambda: int(settings.INBOUND_SIGNATURE_FAILURE_LIMIT)
)


def declared_length(request: HttpRequest) -> int | None:
    """``Content-Length`` as a number, None when absent; ``ValueError`` when malformed."""
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    length = int(raw)
    if length < 0:
        raise ValueError("negative Content-Length")
    return length


def read_body(request: HttpRequest, *, limit: int, declared: int | None) -> bytes | None:
    """The request body, or None when it is over ``limit`` bytes."""
    if declared is not None:  # the common case: one read of exactly the declared size
        if declared > limit:
            return None
        return request.read(declared) if declared else b""
    environ = getattr(request, "environ", None)
    stream: object = request  # ASGI: Django has spooled the body; WSGI: stops at Content-Length
    if environ is not None:  # WSGI without Content-Length: chunked if the server decoded it
        if not environ.get("wsgi.input_terminated"):
            return b""  # the server cannot mark the end: read nothing (as Django does)
        stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(CHUNK, limit + 1 - size))  # type: ignore[attr-defined]
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None
