"""Client API → outbox → a REAL Celery worker (threads, real Redis broker) → the real sandbox.

The worker's threads have their own database connections, so everything they must see is
committed (``committed()``: ORM work on a connection of its own, outside the test transaction)
and removed again at the end: the rows this test created, and only those (audit rows stay, the
audit table refuses DELETE)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connections, models
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from dcp.celery import app
from tests.messaging.outbound.conftest import API_KEY, SDS, Rig, register_with_sandbox

pytestmark = pytest.mark.django_db  # the test database (the work itself is committed)
T = TypeVar("T")
URL = "/api/v1/outbound/messages/"


def committed(work: Callable[[], T]) -> T:
    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def _tenant_models() -> list[type[models.Model]]:
    """Children first: the order rows are deleted in."""
    from certificates.models import Certificate, CertificateAuthority, PrivateKey
    from messaging.models import Message, RawBody
    from messaging.outbound.models import (
        Attempt,
        ClientApiKey,
        OutboxEntry,
        StatusReport,
        Submission,
    )
    from participants.models import ApiKey, DipId, MpidRole, Nomination

    return [
        OutboxEntry,
        Attempt,
        StatusReport,
        Submission,
        Message,  # transitions, exceptions, feed events cascade
        RawBody,
        ClientApiKey,
        Nomination,
        ApiKey,
        DipId,
        MpidRole,
        Certificate,
        PrivateKey,
        CertificateAuthority,
    ]


def _public_models() -> list[type[models.Model]]:
    from dcpregistry.models import ChannelRoute, DcpId, DcpIdAssignment, DcpStatus

    return [DcpIdAssignment, ChannelRoute, DcpId, DcpStatus]


@pytest.fixture
def committed_rig(
    django_db_setup: Any,
    django_db_blocker: Any,
    sandbox_url: str,
    status_receiver: Any,
) -> Iterator[tuple[Rig, str]]:
    """Tenant alpha set up to send (as ``rig``), committed; a client API key; cleaned after."""
    from tenants.models import Tenant, User

    def snapshot() -> dict[type[models.Model], set[Any]]:
        alpha = Tenant.objects.get(slug="alpha")
        seen = {m: set(m.objects.values_list("pk", flat=True)) for m in _public_models()}
        with tenant_context(alpha):
            seen |= {m: set(m.objects.values_list("pk", flat=True)) for m in _tenant_models()}
        return seen

    def setup() -> tuple[Rig, str]:
        from certificates import services as certificates
        from dcpregistry import services as registry
        from messaging.outbound.services import keys
        from participants.services import api_keys, dip_ids, nominations
        from tenants.roles import ClientRole
        from tests.factories import member, staff

        alpha = Tenant.objects.get(slug="alpha")
        dcp_admin = staff(email="dcp-admin@worker-e2e.example")
        admin = member(alpha, ClientRole.CLIENT_ADMIN, email="admin@worker-e2e.example")
        registry.request_dcp_status(environment="UIT", actor=dcp_admin)
        registry.decide_dcp_status(environment="UIT", approve=True, actor=dcp_admin)
        dcp = registry.create_dcp_ids(environment="UIT", count=1, actor=dcp_admin)[0].value
        with tenant_context(alpha):
            combo = dip_ids.add_mpid_role(
                mpid="ALFA", role_code="SDS", actor=dcp_admin, pre_approved=True
            )
            dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin, value=SDS)
            nominations.nominate_dcp(dip_id=dip, dcp_id=dcp, whitelist_domains=False, actor=admin)
            api_keys.generate_keys(dip_id=dip, actor=admin, primary=API_KEY)
            cert = certificates.request_certificate(
                environment="UIT",
                usage="signing",
                dip_ids=(SDS,),
                common_name="signing.alpha.example",
                actor=admin,
                enqueue=False,
            )
            certificates.issue_pending(certificate_id=cert.pk)
            secret = keys.create_key(name="e2e", scopes=["messages:send"], actor=admin).secret
            register_with_sandbox(
                sandbox_url,
                dip_id=SDS,
                api_key=API_KEY,
                dcp_id=dcp,
                status=f"{status_receiver.url}/status/{SDS}",
            )
        return Rig(alpha, admin, SDS, dcp, sandbox_url, status_receiver), secret

    def cleanup(before: dict[type[models.Model], set[Any]]) -> None:
        alpha = Tenant.objects.get(slug="alpha")
        with tenant_context(alpha):
            for m in _tenant_models():
                m.objects.exclude(pk__in=before[m]).delete()
        with schema_context("public"):
            for m in _public_models():
                m.objects.exclude(pk__in=before[m]).delete()
            User.objects.filter(email__endswith="@worker-e2e.example").delete()

    with django_db_blocker.unblock():
        before = committed(snapshot)
        try:
            yield committed(setup)
        finally:
            committed(lambda: cleanup(before))


@pytest.fixture
def worker(django_db_blocker: Any) -> Iterator[Any]:
    with (
        django_db_blocker.unblock(),
        start_worker(
            app, perform_ping_check=False, pool="threads", concurrency=2, loglevel="WARNING"
        ) as w,
    ):
        yield w


def test_submitted_message_reaches_accepted_through_a_real_worker(
    committed_rig: tuple[Rig, str], worker: Any, django_db_blocker: Any
) -> None:
    from messaging.models import Message
    from messaging.outbound.models import Attempt
    from messaging.outbound.services import sender
    from messaging.states import State

    rig, secret = committed_rig
    body = {"dip_id": rig.dip_id, "interface_id": "IF-021", "messages": [rig.message()]}

    def submit() -> Any:
        client = Client(HTTP_HOST=rig.tenant.primary_host)
        return client.post(
            URL,
            orjson.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {secret}",
        )

    def state_of(public_id: str) -> tuple[str, int]:
        with tenant_context(rig.tenant):
            message = Message.objects.get(public_id=public_id)
            return message.state, Attempt.objects.filter(message_ids__contains=[message.pk]).count()

    def sweep() -> int:  # what beat does every 5 s (a nudge may go to another test run's worker)
        with tenant_context(rig.tenant):
            return sender.sweep()

    with django_db_blocker.unblock():
        response = committed(submit)  # commits; the on_commit nudge enqueues send_group
        assert response.status_code == 202, response.content
        public_id = response.json()["messages"][0]["id"]
        deadline = time.monotonic() + 20
        next_sweep = time.monotonic() + 3
        state, attempts = committed(lambda: state_of(public_id))
        while state != State.ACCEPTED and time.monotonic() < deadline:
            time.sleep(0.1)
            if time.monotonic() > next_sweep:
                committed(sweep)
                next_sweep = time.monotonic() + 3
            state, attempts = committed(lambda: state_of(public_id))
    assert state == State.ACCEPTED
    assert attempts == 1  # sent once, answered 201
