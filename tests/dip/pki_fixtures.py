"""Shared test PKI (built once per process) and a real local HTTPS + mTLS server.

The server stands in for the DIP: it requires a client certificate from our test CA, checks
the API key and the request signature with the *independent* verifier, records every request
and answers from a script of canned responses.
"""

from __future__ import annotations

import functools
import json
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dip import pki

try:
    from tests.dip import independent_dip_signer as independent
except ImportError:  # tests/ is not a package: pytest put tests/dip on sys.path
    import independent_dip_signer as independent  # type: ignore[no-redef]

API_KEY = "test-api-key"


def _since() -> datetime:
    """Fixture certificates start a day before they are minted, so a test that reads its "now"
    a little earlier than the (cached, once per process) PKI was built, or a clock that runs
    fast (faketime), never sees them as not yet valid."""
    return datetime.now(UTC) - timedelta(days=1)


@functools.cache
def root() -> pki.Issued:
    return pki.make_ca(common_name="Test Root CA", not_before=_since())


@functools.cache
def intermediate() -> pki.Issued:
    return pki.make_intermediate(
        issuer=root(), common_name="Test Intermediate CA", not_before=_since()
    )


@functools.cache
def signer() -> pki.Issued:
    """DCP signing + mTLS client certificate, issued by the intermediate."""
    return pki.make_leaf(
        issuer=intermediate(),
        common_name="dcp.test signer",
        purposes=(pki.Purpose.SIGNING, pki.Purpose.CLIENT),
        not_before=_since(),
    )


@functools.cache
def server_cert() -> pki.Issued:
    return pki.make_leaf(
        issuer=intermediate(),
        common_name="localhost",
        purposes=(pki.Purpose.SERVER,),
        dns_names=("localhost",),
        ip_addresses=("127.0.0.1",),
        not_before=_since(),
    )


@functools.cache
def other_root() -> pki.Issued:
    return pki.make_ca(common_name="Some Other Root", not_before=_since())


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (client timeout tests)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    client_subject: str


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status, json.dumps(data).encode(), {"Content-Type": "application/json"} | (headers or {})
    )


def standard_response(message: str = "MSG0000 - Success", n: int = 1) -> dict[str, Any]:
    item = {
        "transactionID": "T-IF-021-1409012345-SDS-20250401-8F3A21C0D94B7E10",
        "senderUniqueReference": "S-IF-021-1409012345-SDS-20250401-0000000000a1",
        "correlationID": None,
        "sentTimestamp": "2025-04-01T06:10:00+00:00",
        "senderID": "0000000000",
        "recipientID": "1409012345",
        "DIPConnectionProviderID": "3009012345",
        "message": message,
        "help": None,
        "serviceTicketURL": None,
    }
    return {"messageArray": [item] * n, "timestamp": "2025-04-01T06:10:01+00:00"}


class FakeDip:
    """A threaded HTTPS server on 127.0.0.1 requiring mTLS; use as a context manager."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_server_files())
        context.load_verify_locations(cadata=root().cert_pem.decode())
        context.verify_mode = ssl.CERT_REQUIRED
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                url = f"https://127.0.0.1:{fake.port}{self.path}"
                signed_body = body if length else b"{}"
                try:
                    independent.verify(
                        method=self.command, url=url, body=signed_body, headers=headers
                    )
                    ok = headers.get("X-API-Key") == API_KEY
                except Exception:
                    ok = False
                peer = self.connection.getpeercert() or {}
                subject = dict(x[0] for x in peer.get("subject", ()))
                fake.requests.append(
                    Recorded(
                        self.command, self.path, headers, body, ok, subject.get("commonName", "")
                    )
                )
                reply = fake.script.popleft() if fake.script else Reply(500, b"script exhausted")
                if not ok:
                    reply = Reply(401, b"bad signature or api key")
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = do_GET = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeDip:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)


@functools.cache
def _server_files() -> tuple[str, str]:
    import tempfile
    from pathlib import Path

    directory = Path(tempfile.mkdtemp(prefix="dip-test-pki-"))
    cert, key = server_cert().write(directory, "server")
    return str(cert), str(key)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
