"""A channel on the DIP webhook, reached through Django's WSGI request path (the one gunicorn
serves in production), with deliveries signed by a CA the webhook trusts — for the inbound size
and rate-limit tests. Everything lives in the test's transaction (rolled back afterwards)."""

from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.test import Client
from django_tenants.utils import tenant_context

from dip.envelope import serialise_batch, stamp_d0
from dip.samples import make_message
from dip.signing import SigningIdentity, sign_request
from messaging.inbound import routes
from messaging.inbound.webhook import external_url
from tenants.models import Tenant
from tenants.roles import ClientRole
from tests.factories import member
from tests.sandbox.helpers import ACME, BRIGHTWATT, DCP, MPAN


@dataclass
class Hook:
    tenant: Tenant
    token: str
    identity: SigningIdentity
    address: str  # this test's client address (REMOTE_ADDR), unique per test


def make_hook(tenant: Tenant, identity: SigningIdentity, settings: Any, ca_path: str) -> Hook:
    from participants.services import channels, dip_ids

    settings.DIP_TRUST_ROOTS = [ca_path]  # the verifier is rebuilt (setting_changed)
    settings.DIP_WEBHOOK_BASE_URL = "https://dcp.example"
    admin = member(tenant, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant):
        combo = dip_ids.add_mpid_role(mpid="ACME", role_code="SUP", actor=admin)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin)
        channel = channels.configure_channel(dip_id=dip, interface_id="IF-021", actor=admin)
    routes.table.clear()
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # documentation range
    return Hook(tenant, channel.token, identity, address)


def delivery(txn: str, *, periods: int = 2) -> bytes:
    item = make_message(
        "IF-021",
        sender_dip_id=BRIGHTWATT,
        sender_role="SDS",
        dcp_dip_id=DCP,
        mpan_core=MPAN,
        rng=random.Random(),
        environment="UIT",
        periods=periods,
    )
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    stamped = stamp_d0(
        item,
        transaction_id=txn,
        transaction_timestamp=now,
        publication_id="PUB-021",
        secondary_recipients=[ACME],
    )
    return serialise_batch([stamped])


def signed_headers(hook: Hook, body: bytes) -> dict[str, str]:
    headers = sign_request(
        method="POST",
        url=external_url(hook.token),
        body=body,
        identity=hook.identity,
        now=datetime.now(UTC),
    )
    return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}


class CountingStream:
    """``wsgi.input`` that records how much the application read (a real server's socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._data.read(size)
        self.consumed += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line = self._data.readline(size)
        self.consumed += len(line)
        return line


def post(
    hook: Hook,
    body: bytes,
    *,
    signed: bool = True,
    chunked: bool = False,
    stream: CountingStream | None = None,
    token: str | None = None,
    address: str | None = None,
) -> Any:
    """POST to the webhook through Django's WSGI handler. ``chunked``: no Content-Length, the
    body marked as ending with the stream (``wsgi.input_terminated``), as gunicorn does for a
    chunked request."""
    extra: dict[str, Any] = signed_headers(hook, body) if signed else {}
    extra["REMOTE_ADDR"] = address or hook.address
    if stream is not None or chunked:
        extra["wsgi.input"] = stream or CountingStream(body)
    if chunked:
        extra["CONTENT_LENGTH"] = ""
        extra["wsgi.input_terminated"] = True
    path = f"/dip/inbound/{token or hook.token}/"
    client = Client(HTTP_HOST="dip-callbacks.example", raise_request_exception=False)
    return client.generic("POST", path, body, content_type="application/json", **extra)
