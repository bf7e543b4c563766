"""A real DIP sandbox (uvicorn in a thread, its own SQLite state) and a tenant set up to send
through it: an SDS DIP ID nominating our DCP ID, an API key, a signing certificate from the
tenant's local CA (registered with the sandbox as a trust root), and a status-message webhook
receiver standing in for the inbound endpoint."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from django_tenants.utils import tenant_context
from starlette.applications import Starlette
from starlette.routing import Route

from certificates.providers.local_ca import local_ca_certificate
from dip.pki import certificate_to_pem
from dip.samples import make_message
from messaging.outbound.services import clients
from participants.services import api_keys, dip_ids, nominations
from sandbox.app import build_app
from sandbox.core import Sandbox, Settings
from sandbox.registry import Registry
from tests.certificates.conftest import issue
from tests.participants.conftest import dcp_admin, dcp_ready  # noqa: F401 (fixtures)
from tests.sandbox.conftest import Receiver, ServerThread

SDS = "1409030001"
SIM_SUP = "2309039001"
SIM_SUP_SLOW = "2309039002"
MPAN = "2100000123459"
MPAN_SLOW = "2100000543210"
ADMIN = {"X-Admin-Token": "outbound-admin"}
API_KEY = "outbound-test-primary-key-0001"


def _registry(receiver_url: str) -> dict[str, Any]:
    return {
        "environment": "UIT",
        "spec_version": "2.1.0",
        "admin_token": "outbound-admin",
        "trust_roots": [],
        "participants": [
            {
                "name": "Sim supplier",
                "mpid": "SIMS",
                "dip_ids": [
                    {"dip_id": SIM_SUP, "role": "SUP", "simulated": True, "status_delay": 0.05},
                    {"dip_id": SIM_SUP_SLOW, "role": "SUP", "simulated": True, "reject_rate": 1},
                ],
            }
        ],
        "mpans": {
            MPAN: {"gsp": "_K", "SUP": SIM_SUP},
            MPAN_SLOW: {"gsp": "_K", "SUP": SIM_SUP_SLOW},
        },
    }


@pytest.fixture(scope="session")
def status_receiver() -> Iterator[Receiver]:
    rec = Receiver()
    app = Starlette(routes=[Route("/{path:path}", rec.handle, methods=["POST"])])
    with ServerThread(app) as server:
        rec.url = server.url
        yield rec


@pytest.fixture(scope="session")
def dip_sandbox(
    tmp_path_factory: pytest.TempPathFactory, status_receiver: Receiver
) -> Iterator[tuple[Sandbox, str]]:
    from dip.signing import Verifier

    folder = tmp_path_factory.mktemp("outbound-sandbox")
    settings = Settings(
        db_path=folder / "sandbox.db",
        retry_base_delay=0.05,
        retry_max_delay=0.2,
        retry_attempts=3,
        status_window=0.02,
        callback_timeout=3.0,
    )
    sb = Sandbox(settings, Registry.from_dict(_registry(status_receiver.url), base_dir=folder))
    with ServerThread(build_app(sb)) as server:
        status_receiver.verifier = Verifier([sb.pki.ca_certificate])
        yield sb, server.url


@pytest.fixture
def sandbox_url(dip_sandbox: tuple[Sandbox, str], settings: Any) -> Iterator[str]:
    url = dip_sandbox[1]
    settings.DIP_BASE_URLS = {**settings.DIP_BASE_URLS, "UIT": url}
    settings.OUTBOUND = {
        **settings.OUTBOUND,
        "RETRY_BASE_DELAY": 0.01,
        "RETRY_MAX_DELAY": 0.05,
        "GIVE_UP_AFTER": 30.0,
    }
    settings.DIP_TIMEOUT = 2.0
    clients.reset()
    yield url
    httpx.delete(url + "/admin/faults", headers=ADMIN)
    clients.reset()


@dataclass
class Rig:
    tenant: Any
    admin: Any
    dip_id: str
    dcp_id: str
    sandbox_url: str
    receiver: Receiver

    def message(self, mpan: str = MPAN, **kw: Any) -> dict[str, Any]:
        return make_message(
            "IF-021",
            sender_dip_id=self.dip_id,
            sender_role="SDS",
            dcp_dip_id=kw.pop("dcp_dip_id", None),
            mpan_core=mpan,
            rng=random.Random(random.getrandbits(64)),
            periods=2,
            **kw,
        )

    def fault(self, **fault: Any) -> None:
        httpx.post(self.sandbox_url + "/admin/faults", headers=ADMIN, json=fault).raise_for_status()

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(self.sandbox_url + "/admin/stats", headers=ADMIN).json()
        return data


def register_with_sandbox(url: str, *, dip_id: str, api_key: str, dcp_id: str, status: str) -> None:
    """The tenant's CA as a trust root; its DIP ID, key and nomination in the registry."""
    pem = certificate_to_pem(local_ca_certificate("UIT")).decode()
    httpx.put(url + "/admin/trust-roots", headers=ADMIN, json={"pem": pem}).raise_for_status()
    httpx.put(
        f"{url}/admin/dip-ids/{dip_id}",
        headers=ADMIN,
        json={
            "role": "SDS",
            "participant": "Alpha Data",
            "nominated_dcps": [dcp_id],
            "api_keys": {"primary": api_key},
            "status_webhook": status,
        },
    ).raise_for_status()


@pytest.fixture
def rig(
    tenant_a: Any,
    dcp_ready: dict[str, list[str]],  # noqa: F811 (the imported fixture)
    dcp_admin: Any,  # noqa: F811
    sandbox_url: str,
    status_receiver: Receiver,
) -> Iterator[Rig]:
    from tenants.roles import ClientRole
    from tests.factories import member

    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    dcp = dcp_ready["UIT"][0]
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(
            mpid="ALFA", role_code="SDS", actor=dcp_admin, pre_approved=True
        )
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin, value=SDS)
        nominations.nominate_dcp(dip_id=dip, dcp_id=dcp, whitelist_domains=False, actor=admin)
        api_keys.generate_keys(dip_id=dip, actor=admin, primary=API_KEY)
        issue(dip_ids=(SDS,), actor=admin, common_name="signing.alpha.example")
        register_with_sandbox(
            sandbox_url,
            dip_id=SDS,
            api_key=API_KEY,
            dcp_id=dcp,
            status=f"{status_receiver.url}/status/{SDS}",
        )
        yield Rig(tenant_a, admin, SDS, dcp, sandbox_url, status_receiver)
