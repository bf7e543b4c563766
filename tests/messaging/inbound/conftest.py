"""A real DIP sandbox and a real platform web server (uvicorn, in threads) for the inbound
tests, plus a client system's webhook receiver verifying Standard Webhooks signatures.

Data the web server must see is committed (``committed()``) in a tenant of this package's own
("inb<run>"), created once; tests tell their rows apart by their own DIP transaction ids. The
sandbox trusts the platform's local CA (so L4 status messages signed with the client's
certificate are accepted) and the platform trusts the sandbox CA (``DIP_TRUST_ROOTS``)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from django.conf import settings
from django.db import connections
from django_tenants.utils import tenant_context
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from certificates.providers.local_ca import local_ca_certificate
from dip.pki import certificate_to_pem
from messaging.inbound import push, routes
from messaging.inbound.webhook import reset_verifier
from sandbox.app import build_app
from sandbox.core import Sandbox, Settings
from sandbox.registry import Registry
from tenants.models import Domain, Tenant
from tests.sandbox.conftest import Pki, ServerThread, registry_data
from tests.sandbox.conftest import pki as pki
from tests.sandbox.helpers import ACME, ADMIN, API_KEY

T = TypeVar("T")


def committed(work: Callable[[], T]) -> T:
    """Run ORM code on a connection of its own so it commits at once (see tests/browser)."""

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@dataclass
class ClientSystem:
    """The client's own system: records pushes, verifies signatures, answers from a plan."""

    secret: str = ""
    url: str = ""
    received: list[tuple[dict[str, str], bytes, bool, str]] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        ok = bool(self.secret) and push.verify(self.secret, headers, body)
        path = request.url.path
        with self.lock:
            status = 503 if path in self.fail_paths else self.status
            if 200 <= status < 300:
                self.received.append((headers, body, ok, path))
        return Response(b"", status)

    def events(self, path: str) -> list[tuple[dict[str, Any], bool, str]]:
        """(event, signature verified, webhook-id) received on ``path``."""
        import orjson

        with self.lock:
            return [
                (orjson.loads(b), ok, h["webhook-id"]) for h, b, ok, p in self.received if p == path
            ]


@dataclass
class Env:
    tenant: Tenant
    sb: Sandbox
    sandbox_url: str
    web_url: str
    channel_token: str
    status_token: str
    client: ClientSystem
    pki: Pki


@pytest.fixture(scope="package")
def client_system() -> Iterator[ClientSystem]:
    system = ClientSystem()
    app = Starlette(routes=[Route("/{path:path}", system.handle, methods=["POST"])])
    with ServerThread(app) as server:
        system.url = server.url
        yield system


def _setup_tenant() -> tuple[Tenant, str, str]:
    from certificates import services as certs
    from participants.models import Channel
    from participants.services import channels, dip_ids
    from tests.factories import member

    run = uuid.uuid4().hex[:6]  # per tenant: several packages may each set up their own
    slug = f"inb{run}"
    tenant = Tenant(schema_name=f"t_{slug}", name=f"Inbound {run}", slug=slug)
    tenant.save(verbosity=0)
    Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
    admin = member(tenant, "client_admin", email=f"admin-{run}@inbound.example")
    with tenant_context(tenant):
        combo = dip_ids.add_mpid_role(mpid="ACME", role_code="SUP", actor=admin)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin, value=ACME)
        channel = channels.configure_channel(dip_id=dip, interface_id="IF-021", actor=admin)
        status = channels.configure_channel(
            dip_id=dip, interface_id=Channel.STATUS_MESSAGES, actor=admin
        )
        cert = certs.request_certificate(
            environment="UIT",
            usage="signing",
            dip_ids=[ACME],
            common_name="signing.acme.example",
            actor=admin,
            enqueue=False,
        )
        certs.issue_pending(certificate_id=cert.pk)
    return tenant, channel.token, status.token


class WebServer(ServerThread):
    """The platform's ASGI app (Django has no lifespan protocol)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        super().__init__(app)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)


def _local_ca(tenant: Tenant) -> bytes:
    with tenant_context(tenant):
        return certificate_to_pem(local_ca_certificate("UIT"))


@pytest.fixture(scope="package")
def inbound_env(
    django_db_setup: Any,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,
    client_system: ClientSystem,
) -> Iterator[Env]:
    from tests.sandbox.conftest import Receiver

    folder = tmp_path_factory.mktemp("inbound-sandbox")
    receiver = Receiver(url="http://127.0.0.1:9")  # unused: our clients' hooks are ours
    sb_settings = Settings(
        db_path=folder / "sandbox.db",
        retry_base_delay=0.05,
        retry_max_delay=0.3,
        retry_attempts=6,
        status_window=0.05,
        callback_timeout=5.0,
    )
    sb = Sandbox(sb_settings, Registry.from_dict(registry_data(receiver, pki), base_dir=folder))
    with django_db_blocker.unblock():
        tenant, token, status_token = committed(_setup_tenant)
        local_ca = committed(lambda: _local_ca(tenant))
    from django.urls import get_resolver

    from dcp.asgi import application

    for urlconf in ("dcp.urls_tenant", "dcp.urls_public"):  # import once, before any thread
        get_resolver(urlconf).url_patterns

    saved = {
        k: getattr(settings, k)
        for k in (
            "DIP_TRUST_ROOTS",
            "DIP_WEBHOOK_BASE_URL",
            "DIP_API_URLS",
            "DIP_BASE_URLS",
            "DIP_DCP_API_KEY",
        )
    }
    with ServerThread(build_app(sb)) as sandbox_server, WebServer(application) as web:
        ca_file = Path(folder / "dip-ca.pem")
        ca_file.write_bytes(certificate_to_pem(sb.pki.ca_certificate))
        settings.DIP_TRUST_ROOTS = [str(ca_file)]
        settings.DIP_WEBHOOK_BASE_URL = web.url
        settings.DIP_API_URLS = {"UIT": sandbox_server.url, "PRD": sandbox_server.url}
        settings.DIP_BASE_URLS = settings.DIP_API_URLS  # one table (dcp/settings/base.py)
        settings.DIP_DCP_API_KEY = API_KEY
        reset_verifier()
        routes.table.clear()
        httpx.put(
            sandbox_server.url + "/admin/trust-roots",
            headers=ADMIN,
            json={"pem": local_ca.decode()},
        ).raise_for_status()
        try:
            yield Env(
                tenant,
                sb,
                sandbox_server.url,
                web.url,
                token,
                status_token,
                client_system,
                pki,
            )
        finally:
            for k, v in saved.items():
                setattr(settings, k, v)
            reset_verifier()
    purge_inbound_queues()
    with django_db_blocker.unblock():
        from django.db import connection

        connection.ensure_connection()
        keep = connection.connection.info.backend_pid  # the test session's own connection
        committed(lambda: _close_other_sessions(keep))


def _close_other_sessions(keep: int) -> None:
    """The web server's threads keep connections (CONN_MAX_AGE); end them so the test
    database can be dropped — but never the test session's own connection (``keep``), which
    the following tests still use."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
            [keep],
        )


def purge_inbound_queues() -> int:
    """Drop what is waiting on the ``inbound`` and ``delivery`` queues of the test broker
    (Redis db 1): the web server's nudges and the pipeline's follow-ups that no worker ran.
    Left there, a later test worker would pick them up for a tenant schema that no longer
    exists. Only these two queues: nothing else enqueues there."""
    from dcp.celery import app
    from messaging.inbound import nudge

    nudge.flush()
    purged = 0
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("inbound", "delivery"):
            purged += channel.queue_purge(queue) or 0
    return purged


def wait_for(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s (last: {value!r})")
        time.sleep(interval)
