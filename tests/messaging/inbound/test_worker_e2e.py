"""End to end with a real Celery worker (threads pool, real Redis broker): a DIP delivery via
the sandbox is acknowledged and stored by the web server, the webhook's nudge reaches the
worker, which validates at L4 and pushes each message, signed, to the client's endpoint."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from celery.contrib.testing.worker import start_worker

from dcp.celery import app
from dip.identifiers import mpan_check_digit
from messaging.inbound import nudge
from messaging.models import Message
from tests.messaging.inbound.conftest import Env, purge_inbound_queues, wait_for
from tests.messaging.inbound.test_pipeline import env, in_tenant, make_endpoint
from tests.sandbox.helpers import ACME, ADMIN, BRIGHTWATT, if021, send

__all__ = ["env"]  # the module-scoped fixture (channels registered with the sandbox)
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def worker(env: Env, django_db_blocker: Any) -> Iterator[Any]:
    nudge.flush()
    purge_inbound_queues()  # what earlier tests enqueued and nobody ran
    with (
        django_db_blocker.unblock(),
        start_worker(
            app,
            perform_ping_check=False,
            pool="threads",
            concurrency=2,
            loglevel="WARNING",
            # every queue (no queues=: that selection sticks to the app for later workers)
            shutdown_timeout=30,
        ) as w,
    ):
        yield w
    purge_inbound_queues()


def fresh_mpans(env: Env, count: int) -> list[str]:
    """MPANs no other test uses: an earlier test's unprocessed message for the same MPAN would
    (rightly) hold our pushes back, per-MPAN order."""
    out = []
    for _ in range(count):
        first12 = f"21{random.randrange(10**10):010d}"
        mpan = first12 + str(mpan_check_digit(first12))
        httpx.put(
            f"{env.sandbox_url}/admin/mpans/{mpan}",
            headers=ADMIN,
            json={"gsp": "_K", "SUP": ACME, "SDS": BRIGHTWATT},
        ).raise_for_status()
        out.append(mpan)
    return out


def deliver(env: Env, per_mpan: int) -> list[str]:
    surs: list[str] = []
    for mpan in fresh_mpans(env, 2):
        for m in if021(per_mpan, mpan=mpan):
            reply = send(env.sandbox_url, env.pki.dcp, [m])
            assert reply.status_code == 201, reply.text
            surs.append(m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"])
    return surs


def test_delivery_is_stored_processed_and_pushed_by_the_worker(env: Env, worker: Any) -> None:
    path = f"/e2e/{uuid.uuid4().hex[:6]}"
    _, secret = make_endpoint(env, path)
    env.client.secret = secret
    surs = deliver(env, per_mpan=3)  # 6 messages, two MPANs, through the sandbox

    def pushed() -> set[str]:
        out = set()
        for e, ok, _ in env.client.events(path):
            item = e.get("data", {}).get("message") or {}
            sur = item.get("payload", {}).get("CommonBlock", {}).get("S1", {})
            if ok and sur:
                out.add(sur.get("senderUniqueReference"))
        return out

    def states() -> set[str]:
        return in_tenant(
            env,
            lambda: set(
                Message.objects.filter(sender_unique_reference__in=surs).values_list(
                    "state", flat=True
                )
            ),
        )

    # No processing call here: only the worker moves the messages on.
    try:
        wait_for(lambda: pushed() >= set(surs), timeout=25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; states {states()}, pushed {len(pushed())}") from None
    events = env.client.events(path)
    assert all(ok for _, ok, _ in events), "every push carries a valid signature"
    assert len({wid for _, _, wid in events}) == len(events), "no webhook-id twice"
    states = in_tenant(
        env,
        lambda: set(
            Message.objects.filter(sender_unique_reference__in=surs).values_list("state", flat=True)
        ),
    )
    assert states == {"delivered"}, states
