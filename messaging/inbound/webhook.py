"""The DIP webhook: ``POST /dip/inbound/<token>/`` (PROTOCOL.md §4.2-§4.4).

Order of checks, each with the answer the spec asks for:

1. method POST (405), declared size under ``INBOUND_MAX_BYTES`` (413, the DIP does not retry);
2. token → route (cached public-schema table): unknown → 404, nothing stored; an address past
   ``INBOUND_UNKNOWN_PATH_LIMIT`` unknown tokens a minute gets 429 + Retry-After before any
   database work (``webhook_limits``: counted in Redis, shared by every process);
   tenant not active → 503 + Retry-After (the DIP keeps the messages and retries);
   channel disabled → 403 (no retry: the client switched it off);
3. the body, read from the stream up to ``INBOUND_MAX_BYTES`` (413 past it, also when chunked);
   signature and certificate (``dip.signing.Verifier`` against ``DIP_TRUST_ROOTS``, over
   ``DIP_WEBHOOK_BASE_URL`` + path, the URL as registered) → 400 ``RCP9999``, receipt kept
   without the body — up to ``INBOUND_SIGNATURE_FAILURE_LIMIT`` a minute per token, then 429
   without a receipt;
4. raw bytes + receipt + messages in one transaction (``receive``) → 201/207/400 per
   ``dip.responses.webhook_reply``. Database unavailable → 503 (the DIP retries): nothing is
   acknowledged with 2xx unless committed.

Served by :class:`InboundWebhookMiddleware` on any host, ahead of host routing, sessions and
CSRF (the DIP calls the registered URL, whose host need not be a tenant or platform domain),
and also routed in ``dcp/urls_public.py``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from dcp import metrics
from dip.codes import CODES
from dip.responses import StandardResponse, body_for
from dip.signing import SignatureVerificationError, Verifier
from dip.timeutil import now_timestamp
from messaging.inbound import receive as receiving
from messaging.inbound.routes import Route, table
from messaging.inbound.status_webhook import STATUS_INTERFACE, receive_status
from messaging.inbound.webhook_limits import (
    declared_length,
    read_body,
    signature_failures,
    unknown_tokens,
)
from participants.services.channels import INBOUND_PATH

log = logging.getLogger(__name__)
PREFIX = INBOUND_PATH.split("{", 1)[0]  # "/dip/inbound/"
PUBLIC = "public"
_verifier: Verifier | None = None
_verifier_lock = threading.Lock()

_db: Any = connection  # django-tenants' schema-switching wrapper


def external_url(token: str) -> str:
    """The URL as registered with the DIP (what it signs), never rebuilt from Host."""
    return settings.DIP_WEBHOOK_BASE_URL.rstrip("/") + INBOUND_PATH.format(token=token)


def load_trust_roots(paths: list[str]) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    for p in paths:
        roots.extend(x509.load_pem_x509_certificates(Path(p).read_bytes()))
    return roots


def verifier() -> Verifier:
    global _verifier
    if _verifier is None:
        with _verifier_lock:
            if _verifier is None:
                _verifier = Verifier(
                    load_trust_roots(list(settings.DIP_TRUST_ROOTS)),
                    max_clock_skew=timedelta(seconds=settings.DIP_SIGNATURE_MAX_SKEW),
                )
    return _verifier


def reset_verifier(**kwargs: object) -> None:
    global _verifier
    if kwargs.get("setting") in (None, "DIP_TRUST_ROOTS", "DIP_SIGNATURE_MAX_SKEW"):
        _verifier = None


setting_changed.connect(reset_verifier, dispatch_uid="inbound-verifier-reset")


def _standard(status: int, sender: str, code: str, help_text: str | None) -> HttpResponse:
    now = now_timestamp()
    item = body_for(None, sender_id=sender, text=CODES[code].text(), help=help_text, now=now)
    return HttpResponse(
        StandardResponse((item,), now).to_bytes(), status=status, content_type="application/json"
    )


def _plain(status: int, text: str, retry_after: int | None = None) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain")
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


@csrf_exempt
def inbound_webhook(request: HttpRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        return _plain(405, "POST only")
    try:
        length = declared_length(request)
    except ValueError:
        return _plain(400, "bad Content-Length")
    if length is not None and length > settings.INBOUND_MAX_BYTES:
        return _too_large()
    try:
        return _handle(request, token, length)
    except DatabaseError:
        log.exception("inbound: database unavailable; answering 503 so the DIP retries")
        _reset_connection()
        return _plain(503, "temporarily unavailable", retry_after=5)
    finally:
        if _db.schema_name != PUBLIC:  # only when switched: a reset forces a SET next time
            _db.set_schema_to_public()


def _reset_connection() -> None:
    with contextlib.suppress(Exception):  # the connection is already broken
        connection.close()


def _too_large() -> HttpResponse:
    return _plain(413, f"body over {settings.INBOUND_MAX_BYTES} bytes")


def _load_route(request: HttpRequest, token: str) -> Route | HttpResponse:
    """The route from the database, unless this address already sent too many unknown tokens
    (then 429 before any query)."""
    address = _client_address(request)
    wait = unknown_tokens.exceeded(address)
    if wait:
        return _plain(429, "too many requests", retry_after=wait)
    route = table.resolve(token)
    if route is not None:
        return route
    decision = unknown_tokens.hit(address)
    if not decision.allowed:
        return _plain(429, "too many requests", retry_after=decision.retry_after)
    return _plain(404, "not found")


def _handle(request: HttpRequest, token: str, length: int | None) -> HttpResponse:
    started = time.perf_counter()
    found = table.cached(token) or _load_route(request, token)
    if isinstance(found, HttpResponse):
        return found
    route = found
    if not route.tenant_active:
        return _plain(503, "recipient temporarily unavailable", retry_after=300)
    if not route.enabled:
        return _plain(403, "channel disabled")
    body = read_body(request, limit=settings.INBOUND_MAX_BYTES, declared=length)
    if body is None:
        return _too_large()
    try:
        trust = verifier()
    except (OSError, ValueError):
        log.exception("inbound: DIP trust roots unavailable (%s)", settings.DIP_TRUST_ROOTS)
        return _plain(503, "verification unavailable", retry_after=30)
    try:
        signed = trust.verify(
            method="POST", url=external_url(token), body=body, headers=request.headers
        )
    except SignatureVerificationError as exc:
        decision = signature_failures.hit(token)
        if not decision.allowed:  # a flood of junk: no receipt, no database work
            return _plain(429, "too many failed signatures", retry_after=decision.retry_after)
        _db.set_tenant(route.tenant)
        return _rejected(route, request, body, exc)
    if route.interface_id == STATUS_INTERFACE:
        response = receive_status(route, body)
    else:
        # The capture is one statement on schema-qualified tables: the connection stays public.
        result = receiving.receive(route=route, body=body, headers=request.headers, signed=signed)
        reply = result.reply
        response = HttpResponse(reply.body, status=reply.status, content_type="application/json")
    # The DIP rules bound our synchronous answer (mean 2 s, p90 4 s): DipSyncAckSlow reads this.
    metrics.observe_sync_ack(time.perf_counter() - started, interface=route.interface_id)
    return response


def _rejected(
    route: Route, request: HttpRequest, body: bytes, exc: SignatureVerificationError
) -> HttpResponse:
    log.warning("inbound: %s for %s: %s", exc.reason, route.dip_id, exc)
    receiving.record_rejection(
        route=route,
        body=body,
        headers=request.headers,
        reason=str(exc.reason),
        detail=str(exc),
        status=400,
    )
    return _standard(400, route.dip_id, exc.code, f"{exc.reason}: {exc}"[:500])


class InboundWebhookMiddleware:
    """Serve ``/dip/inbound/<token>/`` before host routing (any host, no session work)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(PREFIX):
            token = path[len(PREFIX) :].rstrip("/")
            if "/" in token:
                return _plain(404, "not found")
            return inbound_webhook(request, token)
        return self.get_response(request)
