"""Send API client for the DIP (PROTOCOL.md §3, §4.1, §5.2): mTLS, API key, signed requests.

One :class:`DipClient` per DIP environment and identity, shared by a worker process: it keeps
one pooled ``httpx.Client``. Every request is signed over the exact bytes and the exact URL
that go on the wire; the caller's body bytes are never re-serialised. Each call returns a
:class:`SendResult` whose :class:`Outcome` says what to do next:

* ``ACCEPTED`` — 2xx; for a send, 201 means the whole batch passed L1 (§3.3).
* ``REJECTED`` — final: 400 (with a StandardResponse), 401, 403, 404, 405, 406, 413, 505 ...
  Fix the request; never resend it unchanged.
* ``RETRYABLE`` — 408, 429, 500, 502, 503, 504, connection errors and timeouts. The client
  retries these itself per its :class:`~dip.backoff.RetryPolicy` (honouring Retry-After) and
  returns ``RETRYABLE`` only when the policy gives up; the caller reschedules the *same* body.

mTLS: the client certificate and key may be given as PEM bytes. ``ssl`` can only load them
from files, so :func:`build_ssl_context` writes them to a fresh private directory (0700, files
0600), loads them and deletes the files before returning — the key lives on only in memory.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from dip.backoff import RetryPolicy, parse_retry_after
from dip.signing import API_KEY, SigningIdentity, sign_request

ENVIRONMENTS = ("DEV", "UIT", "SIT", "SITB", "PRD")
# The Postman reference client signs a bodyless request as if its body were "{}" (§3.5 step 1).
EMPTY_BODY_SIGNED_AS = b"{}"
_CODE = re.compile(r"^\s*([A-Z]{2,4}\d{3,4})")


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RETRYABLE = "retryable"


@dataclass(frozen=True, slots=True)
class ReplyItem:
    """One ``StandardResponseBodyType`` (§5.3)."""

    transaction_id: str | None
    sender_unique_reference: str | None
    correlation_id: str | None
    sent_timestamp: str | None
    sender_id: str | None
    recipient_id: str | None
    dcp_id: str | None
    message: str | None
    help: str | None = None
    service_ticket_url: str | None = None

    @property
    def code(self) -> str | None:
        """The response code at the start of ``message`` (``"MSG1001 -Schema Failure"``)."""
        match = _CODE.match(self.message or "")
        return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class Reply:
    items: tuple[ReplyItem, ...]
    timestamp: str | None


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    status_code: int | None  # None when no HTTP response arrived (connection error, timeout)
    attempts: int
    content: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    response: Reply | None = None
    retry_after: float | None = None  # seconds, from the last response's Retry-After
    error: str | None = None  # transport error text, when there was one
    waited: float = 0.0  # seconds spent sleeping between attempts

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED

    @property
    def codes(self) -> list[str]:
        return [c for c in (i.code for i in self.response.items) if c] if self.response else []


def parse_reply(content: bytes) -> Reply | None:
    """A StandardResponse object (or a bare StandardResponseArray), or None if it is neither."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    timestamp: Any = None
    if isinstance(data, dict):
        timestamp, data = data.get("timestamp"), data.get("messageArray")
    if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
        return None

    def text(item: dict[str, Any], key: str) -> str | None:
        value = item.get(key)
        return value if isinstance(value, str) else None

    items = tuple(
        ReplyItem(
            transaction_id=text(i, "transactionID"),
            sender_unique_reference=text(i, "senderUniqueReference"),
            correlation_id=text(i, "correlationID"),
            sent_timestamp=text(i, "sentTimestamp"),
            sender_id=text(i, "senderID"),
            recipient_id=text(i, "recipientID"),
            dcp_id=text(i, "DIPConnectionProviderID"),
            message=text(i, "message"),
            help=text(i, "help"),
            service_ticket_url=text(i, "serviceTicketURL"),
        )
        for i in data
    )
    return Reply(items, timestamp if isinstance(timestamp, str) else None)


def encode_messages(messages: Sequence[Mapping[str, Any]]) -> bytes:
    """Serialise once, ASCII-only and compact (§3.5: sign exactly these bytes)."""
    return json.dumps(list(messages), separators=(",", ":"), ensure_ascii=True).encode("ascii")


def build_ssl_context(
    *,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    key_password: bytes | None = None,
    ca_pem: bytes | None = None,
    ca_file: str | Path | None = None,
) -> ssl.SSLContext:
    """TLS context for the DIP: server verification plus our mTLS client certificate.

    Without ``ca_pem``/``ca_file`` the system trust store verifies the DIP (live DIP, publicly
    trusted). TLS 1.2 renegotiation initiated by the server stays enabled (§3.7).
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_pem is not None:
        context.load_verify_locations(cadata=ca_pem.decode("ascii"))
    if client_cert_pem is not None:
        if client_key_pem is None:
            raise ValueError("client_key_pem is required with client_cert_pem")
        directory = tempfile.mkdtemp(prefix="dip-mtls-")  # created 0700
        try:
            cert_path, key_path = Path(directory, "client.crt"), Path(directory, "client.key")
            for path, data in ((cert_path, client_cert_pem), (key_path, client_key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            context.load_cert_chain(cert_path, key_path, password=key_password)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    return context


class DipClient:
    """Signed, retrying calls to one DIP environment. Thread-safe; reuse one per process.

    ``base_url``: the environment's base, including any path prefix (issued at onboarding,
    §7.6); ``ssl_context``: from :func:`build_ssl_context`; ``transport`` is for tests only.
    ``sleep`` and ``rng`` are injectable so retry timing is testable without waiting.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        identity: SigningIdentity,
        ssl_context: ssl.SSLContext | None = None,
        timeout: httpx.Timeout | float = 30.0,
        limits: httpx.Limits | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = "OpenDCP-dip-client/1",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._identity = identity
        self._retry = retry if retry is not None else RetryPolicy()
        self._rng = rng if rng is not None else random.Random()  # jitter only
        self._sleep = sleep
        self._http = httpx.Client(
            verify=ssl_context if ssl_context is not None else True,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            limits=limits if limits is not None else httpx.Limits(max_connections=20),
            transport=transport,
            headers={"User-Agent": user_agent},
        )

    @classmethod
    def for_environment(
        cls, environment: str, *, base_urls: Mapping[str, str], **kwargs: Any
    ) -> DipClient:
        """A client for ``environment`` (``DEV``, ``UIT``, ``SIT``, ``SITB``, ``PRD``)."""
        if environment not in ENVIRONMENTS:
            raise ValueError(f"unknown DIP environment {environment!r}")
        if environment not in base_urls:
            raise ValueError(f"no base URL configured for {environment}")
        return cls(base_url=base_urls[environment], **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Send API ------------------------------------------------------------------------------

    def send(self, interface_id: str, body: bytes) -> SendResult:
        """``POST /dip-channel/{interface_id}`` with a DIPMessageArray body (one batch)."""
        return self.request("POST", f"/dip-channel/{path_segment(interface_id)}", body=body)

    def send_batches(self, interface_id: str, bodies: Iterable[bytes]) -> list[SendResult]:
        """Send several batches in order over the pooled connection; one result per batch."""
        return [self.send(interface_id, body) for body in bodies]

    def submit_status_messages(self, body: bytes) -> SendResult:
        """``POST /statusmessage`` with a StandardResponseArray body (L4 outcomes, §5.2)."""
        return self.request("POST", "/statusmessage", body=body)

    # -- webhook configuration (§4.1) ----------------------------------------------------------

    def register_webhook(
        self,
        interface_id: str,
        recipient_id: str,
        callback_url: str,
        *,
        max_message_count: int | None = None,
        max_payload_size: int | None = None,
    ) -> SendResult:
        body = _webhook_config(callback_url, max_message_count, max_payload_size)
        path = f"/dip-channel/{path_segment(interface_id)}/pubconfig/{path_segment(recipient_id)}"
        return self.request("POST", path, body=body)

    def delete_webhook(self, interface_id: str, recipient_id: str) -> SendResult:
        path = f"/dip-channel/{path_segment(interface_id)}/pubconfig/{path_segment(recipient_id)}"
        return self.request("DELETE", path)

    def register_status_webhook(
        self,
        recipient_id: str,
        callback_url: str,
        *,
        max_message_count: int | None = None,
        max_payload_size: int | None = None,
    ) -> SendResult:
        body = _webhook_config(callback_url, max_message_count, max_payload_size)
        path = f"/statusmessage/config/{path_segment(recipient_id)}"
        return self.request("POST", path, body=body)

    def delete_status_webhook(self, recipient_id: str) -> SendResult:
        return self.request("DELETE", f"/statusmessage/config/{path_segment(recipient_id)}")

    # -- the one request path everything goes through ------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
    ) -> SendResult:
        """Signed request with retries. ``path`` is appended to the base URL as given.

        ``retry`` overrides the client's policy for this call (e.g. ``NO_RETRY`` where a 429
        means "busy, poll instead" rather than "slow down").
        """
        policy = retry if retry is not None else self._retry
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            result = self._attempt(method, path, body, params, headers, attempt, waited)
            if result.outcome is not Outcome.RETRYABLE:
                return result
            delay = policy.next_delay(
                attempt=attempt, waited=waited, rng=self._rng, retry_after=result.retry_after
            )
            if delay is None:
                return result
            self._sleep(delay)
            waited += delay

    def _attempt(
        self,
        method: str,
        path: str,
        body: bytes | None,
        params: Mapping[str, str] | None,
        extra: Mapping[str, str] | None,
        attempt: int,
        waited: float,
    ) -> SendResult:
        request = self._http.build_request(
            method, self.base_url + path, params=params, content=body
        )
        signed = EMPTY_BODY_SIGNED_AS if body is None else body
        request.headers.update(extra or {})
        request.headers[API_KEY] = self._api_key
        if body is not None:
            request.headers["Content-Type"] = "application/json"
        # Sign the URL exactly as httpx will send it (after its own normalisation).
        request.headers.update(
            sign_request(method=method, url=str(request.url), body=signed, identity=self._identity)
        )
        try:
            response = self._http.send(request)
        except httpx.TimeoutException as exc:
            error = f"timeout: {exc!r}"
            return SendResult(Outcome.RETRYABLE, None, attempt, error=error, waited=waited)
        except httpx.TransportError as exc:
            error = f"transport: {exc!r}"
            return SendResult(Outcome.RETRYABLE, None, attempt, error=error, waited=waited)
        status = response.status_code
        if 200 <= status < 300:
            outcome = Outcome.ACCEPTED
        elif self._retry.is_retryable(status):
            outcome = Outcome.RETRYABLE
        else:
            outcome = Outcome.REJECTED
        return SendResult(
            outcome,
            status,
            attempt,
            content=response.content,
            headers=response.headers,
            response=parse_reply(response.content) if response.content else None,
            retry_after=parse_retry_after(
                response.headers.get("Retry-After"), now=datetime.now(UTC)
            ),
            waited=waited,
        )


def path_segment(value: str) -> str:
    """A path segment, percent-encoded so an odd ID cannot change the path."""
    return quote(value, safe="-_.~")


def _webhook_config(url: str, count: int | None, size: int | None) -> bytes:
    config: dict[str, Any] = {"callbackURL": url}
    if count is not None:
        config["maxMessageCount"] = count
    if size is not None:
        config["maxPayloadSize"] = size
    return json.dumps(config, separators=(",", ":"), ensure_ascii=True).encode("ascii")
