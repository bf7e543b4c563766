"""A DIP outage, time-compressed (issue 18, Build 5): the sandbox refuses every send while the
client keeps submitting; the platform marks the DIP unavailable, spends no retries, probes at
a steady interval, shows "DIP unavailable since …" (API, pages) and afterwards drains the
backlog in per-MPAN order — every message accepted once, none failed."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from messaging.models import Message, MessageException
from messaging.outbound.models import Attempt, DipAvailability, OutboxEntry
from messaging.outbound.services import sender
from messaging.states import State
from tests.messaging.outbound.conftest import Rig

pytestmark = pytest.mark.django_db

URL = "/api/v1/outbound/messages/"
AVAILABILITY = "/api/v1/outbound/availability/"


@pytest.fixture
def compressed(settings: Any) -> None:
    """72 hours → ~2 s: two failures make an outage, a probe every 0.25 s."""
    settings.OUTBOUND = {
        **settings.OUTBOUND,
        "OUTAGE_AFTER_FAILURES": 2,
        "OUTAGE_AFTER_SECONDS": 0.0,
        "PROBE_INTERVAL": 0.25,
        "DRAIN_RATE": 100.0,
        "BATCH_SIZE": 3,
        "GIVE_UP_AFTER": 600.0,
    }


def submit(client: Any, rig: Rig, n: int) -> list[str]:
    body = {
        "dip_id": rig.dip_id,
        "interface_id": "IF-021",
        "messages": [rig.message() for _ in range(n)],
    }
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 202, response.content
    return [m["id"] for m in response.json()["messages"]]


def send() -> int:
    return sender.send_group(environment="UIT", dip_id="1409030001", interface_id="IF-021")


def test_outage_queue_probe_show_and_drain_in_order(
    rig: Rig, host_client: Any, compressed: None
) -> None:
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 1)  # warm up: validators compiled, pages rendered once
    send()
    client.get("/messages/")
    outage = 3.0
    rig.fault(side="send", kind="error", status=502, duration=outage)  # no Retry-After
    outage_end = timezone.now() + timedelta(seconds=outage)
    started = time.monotonic()
    ids += submit(client, rig, 4)
    shown: list[dict[str, Any]] = []
    marked_at = None
    while time.monotonic() - started < outage + 0.3:
        send()
        ids += submit(client, rig, 1)  # clients keep submitting: always 202
        state = client.get(AVAILABILITY).json()
        uit = next(r for r in state if r["environment"] == "UIT")
        if not uit["available"] and marked_at is None:
            marked_at = time.monotonic()
            marked_wall = timezone.now()
            page = client.get("/messages/").content.decode()
            assert "DIP unavailable since" in page
            detail = client.get(f"{URL}{ids[-1]}/").json()
            assert detail["dip_unavailable_since"] == uit["unavailable_since"]
        if marked_at is not None and time.monotonic() < started + outage - 0.2:
            shown.append(uit)
        time.sleep(0.05)
    assert marked_at is not None, "the outage was never detected"
    assert shown and all(not r["available"] for r in shown)  # shown throughout
    assert all(r["summary"].startswith("DIP unavailable since") for r in shown)
    assert all(r["queued"] >= 4 for r in shown)
    # No retries spent while unavailable: only probes, one per interval at most.
    probes = Attempt.objects.filter(started_at__gte=marked_wall, started_at__lt=outage_end)
    assert 1 <= probes.count() <= (outage / 0.25) + 2
    assert all(a.status_code == 502 for a in probes)
    deadline = time.monotonic() + 20
    while OutboxEntry.objects.filter(pending=True).exists():
        assert time.monotonic() < deadline, "backlog not drained"
        send()
        time.sleep(0.05)
    row = DipAvailability.objects.get(environment="UIT")
    assert row.available and row.outages == 1 and row.recovered_at is not None
    assert [Message.objects.get(public_id=i).state for i in ids] == [State.ACCEPTED] * len(ids)
    assert not MessageException.objects.exclude(category="transport").exists()
    # Per-MPAN order (one MPAN here): the DIP took the messages in submission order.
    taken = [
        i for a in Attempt.objects.filter(status_code=201).order_by("id") for i in a.message_ids
    ]
    assert taken == sorted(taken) and len(taken) == len(ids)
    after = next(r for r in client.get(AVAILABILITY).json() if r["environment"] == "UIT")
    assert after["available"] and after["summary"] != "" and after["queued"] == 0
    assert "DIP unavailable since" not in client.get("/messages/").content.decode()


def test_a_message_fails_only_after_the_give_up_limit(
    rig: Rig, host_client: Any, compressed: None, settings: Any
) -> None:
    settings.OUTBOUND = {**settings.OUTBOUND, "GIVE_UP_AFTER": 3600.0}
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 1)
    rig.fault(side="send", kind="error", status=503, times=1)
    send()
    assert Message.objects.get(public_id=ids[0]).state == State.QUEUED  # well within the limit
    OutboxEntry.objects.update(queued_at=timezone.now() - timedelta(hours=2), due_at=timezone.now())
    settings.OUTBOUND = {**settings.OUTBOUND, "GIVE_UP_AFTER": 3600.0}
    rig.fault(side="send", kind="error", status=503, times=1)
    send()
    assert Message.objects.get(public_id=ids[0]).state == State.FAILED
    exc = MessageException.objects.get()
    assert exc.category == "transport" and exc.code == "give_up"


def test_429_pauses_the_environment_without_an_outage(
    rig: Rig, host_client: Any, compressed: None
) -> None:
    client = host_client(rig.tenant, rig.admin)
    ids = submit(client, rig, 1)
    rig.fault(side="send", kind="error", status=429, times=1)
    send()
    row = DipAvailability.objects.get(environment="UIT")
    assert row.available and row.failures == 0 and row.paused_until is not None
    deadline = time.monotonic() + 10
    while Message.objects.get(public_id=ids[0]).state != State.ACCEPTED:
        assert time.monotonic() < deadline
        send()
        time.sleep(0.05)
    entry = OutboxEntry.objects.get()
    assert not entry.maybe_at_dip  # a 429 was not processed: a later MSG1006 would be real


def test_availability_api_refuses_an_unknown_environment(rig: Rig, host_client: Any) -> None:
    client = host_client(rig.tenant, rig.admin)
    response = client.get(AVAILABILITY, {"environment": "MARS"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_environment"
    ok = client.get(AVAILABILITY, {"environment": "UIT"}).json()
    assert ok == [
        {
            "environment": "UIT",
            "available": True,
            "unavailable_since": None,
            "summary": "DIP available",
            "draining": False,
            "recovered_at": None,
            "last_probe_at": None,
            "next_probe_at": None,
            "queued": 0,
            "oldest_queued_at": None,
        }
    ]
