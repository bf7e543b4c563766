"""A real sandbox server and a real webhook receiver, each uvicorn in a thread, per session.

No Django: these fixtures never touch the database. The receiver verifies every callback's
signature with ``dip.signing.Verifier`` against the sandbox CA and answers from a per-path
plan (default 201 + StandardResponse), so tests can script 503-then-201, 400, 429 ...
"""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dip.client import DipClient
from dip.pki import Issued, Purpose, make_ca, make_leaf
from dip.responses import StandardResponse, body_for
from dip.signing import SignatureVerificationError, SigningIdentity, Verifier
from dip.timeutil import now_timestamp
from sandbox.app import build_app
from sandbox.core import Sandbox, Settings
from sandbox.registry import Registry
from tests.sandbox.helpers import (
    ACME,
    ADMIN,
    API_KEY,
    BRIGHTWATT,
    DCP,
    GREENFIELD,
    LDSO,
    MDS,
    MPAN,
    OTHER_SUP,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]
    at: float
    verified: bool
    reason: str | None

    @property
    def items(self) -> list[Any]:
        data: list[Any] = orjson.loads(self.body)
        return data


@dataclass
class Receiver:
    """Records callbacks; answers each path from its plan (status codes or callables)."""

    url: str = ""
    verifier: Verifier | None = None
    received: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    plans: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, path: str, *responses: Any) -> None:
        self.plans[path].extend(responses)

    def get(self, path: str) -> list[Received]:
        with self.lock:
            return list(self.received[path])

    def wait(self, path: str, n: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.get(path)
            if sum(len(r.items) for r in got) >= n:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{path}: got {self.get(path)!r}, wanted {n} items")

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        reason = None
        try:
            assert self.verifier is not None
            self.verifier.verify(
                method="POST", url=self.url + path, body=body, headers=request.headers
            )
        except SignatureVerificationError as exc:
            reason = str(exc.reason)
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.lock:
            self.received[path].append(
                Received(path, body, headers, time.time(), not reason, reason)
            )
            planned = self.plans[path].pop(0) if self.plans[path] else 201
        if callable(planned):
            result: Response = planned(body)
            return result
        status, extra = (planned, {}) if isinstance(planned, int) else planned
        if status in (201, 400) and not reason:
            code = (
                "RCP0000 - Message Success"
                if status == 201
                else extra.get("code", "RCP1061 - MPAN Invalid or Unknown")
            )
            return _standard(body, status, code)
        if reason:
            return _standard(body, 400, "RCP9999 - Message Signature Invalid")
        return Response(b"", status, headers=extra.get("headers"))


def _standard(body: bytes, status: int, code: str) -> Response:
    from dip.envelope import Message

    now = now_timestamp()
    try:
        items = orjson.loads(body)
        bodies = tuple(
            body_for(Message(i, n), sender_id=ACME, text=code, now=now) for n, i in enumerate(items)
        )
    except Exception:
        bodies = (body_for(None, sender_id=ACME, text=code, now=now),)
    return Response(StandardResponse(bodies, now).to_bytes(), status, media_type="application/json")


@dataclass
class Pki:
    ca: Issued
    dcp: SigningIdentity
    expired: SigningIdentity
    untrusted: SigningIdentity
    ca_path: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    from datetime import UTC, datetime, timedelta

    folder = tmp_path_factory.mktemp("client-pki")
    ca = make_ca(common_name="Test DCP CA")
    leaf = make_leaf(
        issuer=ca, common_name="opendcp.test", purposes=(Purpose.SIGNING, Purpose.CLIENT)
    )
    now = datetime.now(UTC)
    old = make_leaf(
        issuer=ca,
        common_name="old.test",
        not_before=now - timedelta(days=9),
        not_after=now - timedelta(days=1),
    )
    rogue_ca = make_ca(common_name="Rogue")
    rogue = make_leaf(issuer=rogue_ca, common_name="rogue.test")
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)

    def ident(i: Issued) -> SigningIdentity:
        return SigningIdentity.from_pem(key_pem=i.key_pem, cert_pem=i.cert_pem)

    return Pki(ca, ident(leaf), ident(old), ident(rogue), ca_path)


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    app = Starlette(routes=[Route("/{path:path}", rec.handle, methods=["POST"])])
    with ServerThread(app) as server:
        rec.url = server.url
        yield rec


def registry_data(receiver: Receiver, pki: Pki) -> dict[str, Any]:
    hook = receiver.url
    return {
        "environment": "UIT",
        "spec_version": "2.1.0",
        "admin_token": "test-admin",
        "trust_roots": [str(pki.ca_path)],
        "participants": [
            {
                "name": "OpenDCP",
                "dip_ids": [{"dip_id": DCP, "role": "DCP", "api_keys": {"primary": API_KEY}}],
            },
            {
                "name": "Acme Energy",
                "mpid": "ACME",
                "dip_ids": [
                    {
                        "dip_id": ACME,
                        "role": "SUP",
                        "nominated_dcps": [DCP],
                        "webhooks": {"*": f"{hook}/acme/pub"},
                        "status_webhook": f"{hook}/acme/status",
                    }
                ],
            },
            {
                "name": "Brightwatt Data",
                "mpid": "BRWT",
                "dip_ids": [
                    {
                        "dip_id": BRIGHTWATT,
                        "role": "SDS",
                        "nominated_dcps": [DCP],
                        "webhooks": {"*": f"{hook}/brightwatt/pub"},
                        "status_webhook": f"{hook}/brightwatt/status",
                    }
                ],
            },
            {
                "name": "Greenfield",
                "mpid": "GRNF",
                "dip_ids": [{"dip_id": GREENFIELD, "role": "SDS", "simulated": True}],
            },
            {
                "name": "WPN",
                "mpid": "WPNW",
                "dip_ids": [
                    {"dip_id": LDSO, "role": "LDSO", "simulated": True, "status_delay": 0.05}
                ],
            },
            {
                "name": "MDS",
                "mpid": "MDSX",
                "dip_ids": [
                    {"dip_id": MDS, "role": "MDS", "simulated": True, "status_delay": 0.05}
                ],
            },
            {
                "name": "Northwind",
                "mpid": "NWND",
                "dip_ids": [{"dip_id": OTHER_SUP, "role": "SUP", "simulated": True}],
            },
        ],
        "mpans": {MPAN: {"gsp": "_K", "SUP": ACME, "SDS": BRIGHTWATT, "LDSO": LDSO}},
    }


@pytest.fixture(scope="session")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver, pki: Pki
) -> Iterator[tuple[Sandbox, str]]:
    folder = tmp_path_factory.mktemp("sandbox")
    settings = Settings(
        db_path=folder / "sandbox.db",
        retry_base_delay=0.05,
        retry_max_delay=0.2,
        retry_attempts=4,
        replay_page_size=2,
        status_window=0.05,
        callback_timeout=3.0,
    )
    sb = Sandbox(settings, Registry.from_dict(registry_data(receiver, pki), base_dir=folder))
    with ServerThread(build_app(sb)) as server:
        receiver.verifier = Verifier([sb.pki.ca_certificate])
        yield sb, server.url


@pytest.fixture
def sandbox_url(sandbox: tuple[Sandbox, str]) -> Iterator[str]:
    yield sandbox[1]
    httpx.delete(sandbox[1] + "/admin/faults", headers=ADMIN)


@pytest.fixture
def sb(sandbox: tuple[Sandbox, str]) -> Sandbox:
    return sandbox[0]


@pytest.fixture
def client(sandbox_url: str, pki: Pki) -> Iterator[DipClient]:
    from dip.backoff import NO_RETRY

    with DipClient(base_url=sandbox_url, api_key=API_KEY, identity=pki.dcp, retry=NO_RETRY) as c:
        yield c


def drain(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.post(
        url + "/admin/drain", headers=ADMIN, json={"timeout": 20}, timeout=30
    ).json()
    return data
