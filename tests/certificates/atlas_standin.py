"""A stand-in GlobalSign Atlas (HVCA v2) server: real HTTPS with mTLS in the test process,
speaking the same API as certificates/providers/globalsign.py documents."""

from __future__ import annotations

import json
import ssl
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from dip import pki


class Atlas:
    def __init__(self, directory: Path, *, api_key: str = "key-1", api_secret: str = "secret-1"):
        self.api_key, self.api_secret = api_key, api_secret
        self.root = pki.make_ca(common_name="Stand-in GlobalSign Root")
        self.issuing = pki.make_intermediate(
            issuer=self.root, common_name="Stand-in Atlas Issuing CA"
        )
        server = pki.make_leaf(
            issuer=self.root,
            common_name="127.0.0.1",
            purposes=[pki.Purpose.SERVER],
            ip_addresses=["127.0.0.1"],
        )
        client = pki.make_leaf(
            issuer=self.root, common_name="dcp-atlas-client", purposes=[pki.Purpose.CLIENT]
        )
        self.server_cert, self.server_key = server.write(directory, "server")
        self.client_cert, self.client_key = client.write(directory, "client")
        self.ca_bundle = directory / "root.pem"
        self.ca_bundle.write_bytes(self.root.cert_pem)
        self.tokens: set[str] = set()
        self.certs: dict[str, dict[str, Any]] = {}
        self.claims: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.fail_next: list[int] = []  # status codes to answer the next calls with
        self.delay = 0.0
        self.pending_polls = 0  # GET /certificates/<sn> answers 404 this many times first

    def settings(self, url: str) -> dict[str, str]:
        return {
            "url": url,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "client_cert": str(self.client_cert),
            "client_key": str(self.client_key),
            "ca_bundle": str(self.ca_bundle),
        }

    def issue(self, body: dict[str, Any]) -> str:
        csr = x509.load_pem_x509_csr(body["csr"].encode())
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.issuing.certificate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.fromtimestamp(body["validity"]["not_before"], UTC))
            .not_valid_after(datetime.fromtimestamp(body["validity"]["not_after"], UTC))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if body.get("san", {}).get("dns_names"):
            names = [x509.DNSName(d) for d in body["san"]["dns_names"]]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.issuing.private_key, hashes.SHA256())
        serial = format(cert.serial_number, "X")
        self.certs[serial] = {
            "certificate": pki.certificate_to_pem(cert).decode(),
            "status": "ISSUED",
            "updated_at": int(time.time()),
        }
        return serial


def _handler(atlas: Atlas) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            ctype = "application/problem+json" if status >= 400 else "application/json"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else None

        def _route(self, method: str) -> None:
            body = self._body()
            atlas.requests.append((method, self.path, body))
            if atlas.delay:
                time.sleep(atlas.delay)
            if atlas.fail_next:
                status = atlas.fail_next.pop(0)
                return self._reply(status, {"description": f"stand-in failure {status}"})
            path = self.path.split("?")[0].removeprefix("/v2")
            if method == "POST" and path == "/login":
                if body != {"api_key": atlas.api_key, "api_secret": atlas.api_secret}:
                    return self._reply(401, {"description": "invalid credentials"})
                token = f"tok-{len(atlas.tokens)}"
                atlas.tokens.add(token)
                return self._reply(200, {"access_token": token})
            auth = self.headers.get("Authorization", "")
            if auth.removeprefix("Bearer ") not in atlas.tokens:
                return self._reply(401, {"description": "invalid token"})
            if method == "GET" and path == "/validationpolicy":
                return self._reply(
                    200,
                    {
                        "validity": {"secondsmin": 60, "secondsmax": 33_000_000},
                        "subject_dn": {"common_name": {"presence": "REQUIRED"}},
                    },
                )
            if method == "GET" and path == "/trustchain":
                return self._reply(
                    200, [atlas.issuing.cert_pem.decode(), atlas.root.cert_pem.decode()]
                )
            if method == "POST" and path == "/certificates":
                if "csr" not in (body or {}) or not body.get("subject_dn", {}).get("common_name"):
                    return self._reply(
                        422, {"description": "csr and subject_dn.common_name are required"}
                    )
                serial = atlas.issue(body)
                return self._reply(201, None, {"Location": f"/v2/certificates/{serial}"})
            if path.startswith("/certificates/"):
                serial = path.rsplit("/", 1)[-1]
                if serial not in atlas.certs:
                    return self._reply(404, {"description": "no such certificate"})
                if method == "GET":
                    if atlas.pending_polls:
                        atlas.pending_polls -= 1
                        return self._reply(404, {"description": "not issued yet"})
                    return self._reply(200, atlas.certs[serial])
                if method == "PATCH":
                    atlas.certs[serial]["status"] = "REVOKED"
                    return self._reply(204)
            if method == "GET" and path.startswith("/claims/domains/"):
                claim = atlas.claims.get(path.rsplit("/", 1)[-1])
                return (
                    self._reply(200, claim)
                    if claim
                    else self._reply(404, {"description": "no claim"})
                )
            return self._reply(404, {"description": f"no route {method} {path}"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

    return Handler


def serve(atlas: Atlas) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(atlas))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(atlas.server_cert, atlas.server_key)
    context.load_verify_locations(cafile=atlas.ca_bundle)
    context.verify_mode = ssl.CERT_REQUIRED  # mTLS: the API refuses clients without a certificate
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"https://127.0.0.1:{server.server_address[1]}/v2"
