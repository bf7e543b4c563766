"""The demo flows end to end against a real DIP sandbox (uvicorn in a thread, the demo
registry): `load_demo` gives Acme a UIT signing certificate from its local CA (once),
`sync_trust_to_sandbox` makes the sandbox trust that CA (once), and `demo_traffic` submits
outbound messages the sandbox accepts and has the sandbox deliver exactly N inbound ones.

The sandbox runs with a state folder relative to the working directory, as `make run` starts
it (`--db .local/sandbox/sandbox.db`): uploaded trust roots must still be found."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context
from starlette.applications import Starlette
from starlette.routing import Route

from certificates.models import Certificate
from messaging.models import Message
from messaging.outbound.services import clients, sender
from messaging.states import Direction, State
from sandbox.app import build_app
from sandbox.core import Sandbox, Settings
from sandbox.registry import Registry
from tenants.models import Tenant
from tests.sandbox.conftest import Receiver, ServerThread

pytestmark = pytest.mark.django_db

ACME = "2309010001"
TOKEN = "sandbox-admin"
REGISTRY = Path(__file__).resolve().parents[2] / "sandbox" / "registry.demo.yaml"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    app = Starlette(routes=[Route("/{path:path}", rec.handle, methods=["POST"])])
    with ServerThread(app) as server:
        rec.url = server.url
        yield rec


@pytest.fixture
def demo_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver, settings: Any
) -> Iterator[tuple[Sandbox, str]]:
    from dip.signing import Verifier

    monkeypatch.chdir(tmp_path)  # relative state folder, like `make run`
    registry = Registry.from_yaml(REGISTRY)
    for entry in registry.dip_ids.values():  # no callbacks to a developer's running platform
        entry.webhooks, entry.status_webhook = {}, None
    registry.dip_ids[ACME].webhooks = {"*": f"{receiver.url}/acme"}
    sb = Sandbox(Settings(db_path=Path("sb") / "sandbox.db", status_window=0.02), registry)
    with ServerThread(build_app(sb)) as server:
        receiver.verifier = Verifier([sb.pki.ca_certificate])
        settings.DIP_API_URLS = {**settings.DIP_API_URLS, "UIT": server.url}
        settings.DIP_BASE_URLS = {**settings.DIP_BASE_URLS, "UIT": server.url}
        clients.reset()
        yield sb, server.url
    clients.reset()


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_demo_certificate_trust_and_traffic(demo_sandbox: tuple[Sandbox, str], receiver: Receiver):
    from tenants.demo import load_demo

    sb, url = demo_sandbox
    load_demo()
    load_demo()  # idempotent: still one certificate
    acme, brightwatt = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="brightwatt")
    with tenant_context(acme):
        cert = Certificate.objects.get()
        assert (cert.state, cert.provider, cert.usage) == ("active", "local_ca", "signing")
        assert cert.dip_ids == [ACME] and cert.environment == "UIT"
    with tenant_context(brightwatt):
        assert not Certificate.objects.exists()  # not nominated yet: nothing to sign

    # Scoped to the demo tenants: other tests of the same session commit tenants of their own.
    first = run("sync_trust_to_sandbox", "--sandbox-admin-token", TOKEN, "--tenant", "acme")
    assert "acme" in first and " uploaded " in first
    none = run("sync_trust_to_sandbox", "--sandbox-admin-token", TOKEN, "--tenant", "brightwatt")
    assert "no_local_ca" in none
    again = run("sync_trust_to_sandbox", "--sandbox-admin-token", TOKEN, "--tenant", "acme")
    assert " trusted " in again and " uploaded " not in again
    roots = httpx.get(f"{url}/admin/registry", headers={"X-Admin-Token": TOKEN}).json()
    assert len(roots["trust_roots"]) == 2  # the sandbox CA and Acme's, uploaded once
    assert Path(roots["trust_roots"][1]).is_absolute()

    out = run("demo_traffic", "--outbound", "3", "--inbound", "4", "--wait", "0")
    assert "3 IF-025 message(s) as 2309010001 queued" in out
    assert "the sandbox sent 4 IF-002 message(s)" in out
    with tenant_context(acme):
        outbound = Message.objects.filter(direction=Direction.OUTBOUND)
        assert outbound.count() == 3 and len({m.mpan_core for m in outbound}) == 3
        # What the Celery worker does after commit: sign with Acme's certificate and send.
        assert sender.send_group(environment="UIT", dip_id=ACME, interface_id="IF-025") == 3
        assert {m.state for m in outbound.all()} == {State.ACCEPTED}
        assert all(m.transaction_id.startswith("T-IF-025-") for m in outbound.all())

        topped = run("demo_traffic", "--top-up", "--outbound", "3", "--inbound", "0")
        assert "already has its demo traffic" in topped and outbound.count() == 3

    got = receiver.wait("/acme", 4)
    items = [i for r in got for i in r.items]
    assert len(items) == 4 and all(r.verified for r in got)
    assert {i["payload"]["CommonBlock"]["S0"]["interfaceID"] for i in items} == {"IF-002"}
    assert sb.router.accepted >= 3
