"""The DIP webhook with the real sandbox delivering: verified, stored once, answered per spec."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from django_tenants.utils import tenant_context

from dip.envelope import serialise_batch, stamp_d0
from dip.samples import make_message
from dip.signing import SigningIdentity, sign_request
from messaging.inbound import webhook_limits
from messaging.inbound.models import InboundReceipt
from messaging.inbound.sync import sync_channels
from messaging.inbound.webhook import external_url
from messaging.models import Message
from tests.messaging.inbound.conftest import Env, committed, wait_for
from tests.sandbox.helpers import ACME, BRIGHTWATT, DCP, MPAN, if021, send

pytestmark = pytest.mark.django_db


def delivered_item(txn: str, mpan: str = MPAN, **kw: Any) -> dict[str, Any]:
    item = make_message(
        "IF-021",
        sender_dip_id=BRIGHTWATT,
        sender_role="SDS",
        dcp_dip_id=DCP,
        mpan_core=mpan,
        rng=random.Random(),
        environment="UIT",
        **{"periods": 2, **kw},
    )
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    return stamp_d0(
        item,
        transaction_id=txn,
        transaction_timestamp=now,
        publication_id="PUB-021",
        secondary_recipients=[ACME],
    )


def post(
    env: Env, body: bytes, identity: SigningIdentity | None = None, **kw: Any
) -> httpx.Response:
    token = kw.pop("token", env.channel_token)
    url = external_url(token)
    headers = sign_request(
        method="POST",
        url=kw.pop("signed_url", url),
        body=body,
        identity=identity or env.sb.pki.signing,
        now=kw.pop("now", datetime.now(UTC)),
    )
    headers["Content-Type"] = "application/json"
    sent = kw.pop("send_body", body)
    return httpx.post(url, content=sent, headers={**headers, **kw.pop("headers", {})}, timeout=10)


def count(env: Env, **filters: Any) -> int:
    def q() -> int:
        with tenant_context(env.tenant):
            return Message.objects.filter(**filters).count()

    return committed(q)


def receipts(env: Env, **filters: Any) -> list[InboundReceipt]:
    def q() -> list[InboundReceipt]:
        with tenant_context(env.tenant):
            return list(InboundReceipt.objects.filter(**filters).order_by("id"))

    return committed(q)


@pytest.fixture(scope="module")
def synced(inbound_env: Env, django_db_blocker: Any) -> Env:
    def run() -> list[Any]:
        with tenant_context(inbound_env.tenant):
            return sync_channels()

    with django_db_blocker.unblock():
        rows = committed(run)
    assert rows and all(r.ok for r in rows), rows
    return inbound_env


def test_sync_registers_the_channel_urls_with_the_dip(synced: Env) -> None:
    entry = synced.sb.registry.get(ACME)
    assert entry is not None
    assert entry.webhooks["IF-021"] == external_url(synced.channel_token)
    assert entry.status_webhook == external_url(synced.status_token)


def test_sandbox_deliveries_are_acknowledged_and_stored(synced: Env) -> None:
    messages = if021(3, mpan=MPAN)
    surs = [m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"] for m in messages]
    reply = send(synced.sandbox_url, synced.pki.dcp, messages)
    assert reply.status_code == 201, reply.text
    wait_for(lambda: count(synced, sender_unique_reference__in=surs) == 3)

    def check() -> tuple[set[str], list[int]]:
        with tenant_context(synced.tenant):
            ms = list(Message.objects.filter(sender_unique_reference__in=surs))
            statuses = list(
                InboundReceipt.objects.filter(raw_id__in={m.raw_id for m in ms}).values_list(
                    "http_status", flat=True
                )
            )
            return {m.state for m in ms}, statuses

    states, statuses = committed(check)
    assert states <= {"received", "validated", "delivered"}
    assert statuses and set(statuses) == {201}


def test_duplicate_transaction_is_acknowledged_stored_once_and_counted(synced: Env) -> None:
    txn = f"DUP-{random.getrandbits(40):x}"
    body = serialise_batch([delivered_item(txn)])
    first, second = post(synced, body), post(synced, body)
    assert first.status_code == second.status_code == 201
    assert count(synced, transaction_id=txn) == 1

    def dup() -> int:
        with tenant_context(synced.tenant):
            return Message.objects.get(transaction_id=txn).duplicate_count

    assert committed(dup) == 1
    last = receipts(synced, duplicate_transaction_ids__contains=[txn])
    assert len(last) == 1 and last[0].duplicate_count == 1 and last[0].accepted_count == 1


def test_batch_with_one_bad_item_gets_207(synced: Env) -> None:
    good = delivered_item(f"P-{random.getrandbits(40):x}")
    body = orjson.dumps([orjson.loads(serialise_batch([good]))[0], {"nopayload": 1}])
    reply = post(synced, body)
    assert reply.status_code == 207
    codes = [i["message"][:7] for i in reply.json()["messageArray"]]
    assert codes[0] == "RCP0000" and codes[1] != "RCP0000"


@pytest.mark.parametrize(
    "case",
    ["untrusted", "expired", "tampered", "wrong_url", "stale", "missing_header"],
)
def test_bad_signatures_are_refused_with_400_and_nothing_stored(synced: Env, case: str) -> None:
    txn = f"BAD-{case}-{random.getrandbits(40):x}"
    body = serialise_batch([delivered_item(txn)])
    pki = synced.sb.pki
    kw: dict[str, Any] = {}
    if case == "untrusted":
        kw["identity"] = pki.rogue
    elif case == "expired":
        kw["identity"] = pki.expired
    elif case == "tampered":
        kw["send_body"] = body.replace(b"UIT", b"PRD", 1)
    elif case == "wrong_url":
        kw["signed_url"] = "http://example.com/dip/inbound/x/"
    elif case == "stale":
        kw["now"] = datetime.now(UTC) - timedelta(hours=1)
    elif case == "missing_header":
        kw["headers"] = {"X-DIP-Signature": ""}
    reply = post(synced, body, **kw)
    assert reply.status_code == 400
    assert reply.json()["messageArray"][0]["message"].startswith("RCP9999")
    assert count(synced, transaction_id=txn) == 0
    rejected = receipts(synced, outcome="signature", verified=False)
    assert rejected and rejected[-1].raw_id is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(b"\xff\xfe[]", "UTF-8"), (b"{not json", "JSON"), (b"[]", "at least one"), (b"{}", "array")],
)
def test_unusable_bodies_get_400_with_a_standard_response(
    synced: Env, body: bytes, fragment: str
) -> None:
    reply = post(synced, body)
    assert reply.status_code == 400
    item = reply.json()["messageArray"][0]
    assert item["message"].startswith("RCP") and fragment in item["message"]


def test_oversized_body_gets_413(synced: Env, settings: Any) -> None:
    settings.INBOUND_MAX_BYTES = 1000
    reply = post(synced, serialise_batch([delivered_item("BIG", periods=48)]) + b" " * 2000)
    assert reply.status_code == 413


def test_unknown_path_is_404_then_rate_limited(synced: Env, settings: Any) -> None:
    settings.INBOUND_UNKNOWN_PATH_LIMIT = 3
    webhook_limits.unknown_tokens.reset("127.0.0.1")
    codes = [post(synced, b"[]", token=f"nope{i}").status_code for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]
    webhook_limits.unknown_tokens.reset("127.0.0.1")


def test_disabled_channel_and_suspended_tenant(synced: Env) -> None:
    from participants.models import Channel
    from tenants.models import Tenant

    body = serialise_batch([delivered_item(f"OFF-{random.getrandbits(40):x}")])

    def set_channel(enabled: bool) -> None:
        with tenant_context(synced.tenant):
            ch = Channel.objects.get(token=synced.channel_token)
            ch.enabled = enabled
            ch.save()

    def set_tenant(status: str) -> None:
        Tenant.objects.filter(pk=synced.tenant.pk).update(status=status)
        Tenant.objects.get(pk=synced.tenant.pk).save()  # signals: route cache invalidation

    committed(lambda: set_channel(False))
    try:
        assert post(synced, body).status_code == 403
    finally:
        committed(lambda: set_channel(True))
    committed(lambda: set_tenant("suspended"))
    try:
        reply = post(synced, body)
        assert reply.status_code == 503 and reply.headers["Retry-After"]
    finally:
        committed(lambda: set_tenant("active"))
    assert post(synced, body).status_code == 201


def test_database_unavailable_is_503_never_2xx(synced: Env, monkeypatch: Any) -> None:
    from django.db import OperationalError

    from messaging.inbound import receive

    def down(**_: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(receive, "receive", down)
    body = serialise_batch([delivered_item(f"DB-{random.getrandbits(40):x}")])
    reply = post(synced, body)
    assert reply.status_code == 503
