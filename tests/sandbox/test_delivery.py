"""Delivery rules (PROTOCOL.md §4.4): retry 408/429/5xx and connection errors, not other 4xx;
status messages L3/L4; webhook configuration; delivery faults."""

from __future__ import annotations

import time

import httpx
import orjson

from dip.client import DipClient
from dip.responses import DIP_SENDER_ID, body_for
from dip.timeutil import now_timestamp
from sandbox.core import Sandbox
from tests.sandbox.conftest import Pki, Receiver, drain
from tests.sandbox.helpers import ACME, ADMIN, BRIGHTWATT, if021, send


def _deliveries(sb: Sandbox, txn: str) -> list[tuple[str, str, int]]:
    sb.store.commit_sync()
    rows = sb.store.query(
        "SELECT recipient_dip_id, status, attempts FROM deliveries WHERE transaction_id = ?", (txn,)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def _send_one(url: str, pki: Pki) -> str:
    response = send(url, pki.dcp, if021())
    assert response.status_code == 201
    return str(response.json()["messageArray"][0]["transactionID"])


def test_503_then_201_is_delivered_once_on_retry(
    sandbox_url: str, pki: Pki, receiver: Receiver, sb: Sandbox
) -> None:
    receiver.plan("/acme/pub", 503)
    before = len(receiver.get("/acme/pub"))
    txn = _send_one(sandbox_url, pki)
    drain(sandbox_url)
    got = receiver.get("/acme/pub")[before:]
    assert len(got) == 2 and got[0].body == got[1].body  # the same signed body again
    assert (ACME, "Delivered", 2) in _deliveries(sb, txn)


def test_400_is_not_retried_and_relayed_as_l3_status(
    sandbox_url: str, pki: Pki, receiver: Receiver, sb: Sandbox
) -> None:
    receiver.plan("/acme/pub", 400)
    before = len(receiver.get("/acme/pub"))
    txn = _send_one(sandbox_url, pki)
    drain(sandbox_url)
    assert len(receiver.get("/acme/pub")) == before + 1
    assert (ACME, "RejectedByRecipient", 1) in _deliveries(sb, txn)
    deadline = time.time() + 5
    while time.time() < deadline:
        statuses = [
            i for r in receiver.get("/brightwatt/status") for i in r.items
            if i["transactionID"] == txn and i["message"].startswith("RCP1061")
        ]  # fmt: skip
        if statuses:
            break
        time.sleep(0.05)
    assert statuses and statuses[0]["recipientID"] == BRIGHTWATT
    assert all(r.verified for r in receiver.get("/brightwatt/status"))


def test_429_is_retried_after_retry_after(sandbox_url: str, pki: Pki, receiver: Receiver) -> None:
    receiver.plan("/acme/pub", (429, {"headers": {"Retry-After": "1"}}))
    before = len(receiver.get("/acme/pub"))
    _send_one(sandbox_url, pki)
    drain(sandbox_url)
    got = receiver.get("/acme/pub")[before:]
    assert len(got) == 2
    assert got[1].at - got[0].at >= 0.95


def test_other_4xx_are_final(sandbox_url: str, pki: Pki, receiver: Receiver, sb: Sandbox) -> None:
    receiver.plan("/acme/pub", 404)
    txn = _send_one(sandbox_url, pki)
    drain(sandbox_url)
    assert (ACME, "RejectedByRecipient", 1) in _deliveries(sb, txn)


def test_retries_exhausted(sandbox_url: str, pki: Pki, receiver: Receiver, sb: Sandbox) -> None:
    receiver.plan("/acme/pub", 500, 502, 504, 408)
    txn = _send_one(sandbox_url, pki)
    drain(sandbox_url)
    assert (ACME, "RetriesExhausted", 4) in _deliveries(sb, txn)


def test_simulated_counterparty_answers_with_l4_status(
    sandbox_url: str, pki: Pki, receiver: Receiver
) -> None:
    txn = _send_one(sandbox_url, pki)  # LDSO (simulated) is appointed to the MPAN
    deadline = time.time() + 5
    found: list[dict[str, object]] = []
    while time.time() < deadline and not found:
        drain(sandbox_url)
        found = [i for r in receiver.get("/brightwatt/status") for i in r.items
                 if i["transactionID"] == txn and i["senderID"] == "2509010001"]  # fmt: skip
    assert found and found[0]["message"] == "RCP0000 - Message Success"


def test_statusmessage_is_relayed_to_the_original_sender(
    client: DipClient, receiver: Receiver, sandbox_url: str
) -> None:
    now = now_timestamp()
    item = body_for(None, sender_id=ACME, text="RCP1061 - MPAN Invalid or Unknown", now=now)
    d = item.to_dict() | {
        "recipientID": BRIGHTWATT,
        "transactionID": "T-X-1",
        "senderUniqueReference": "S-IF-021-1409010001-SDS-20250101-abc1",
    }
    result = client.submit_status_messages(orjson.dumps([d]))
    assert result.status_code == 201
    reply = orjson.loads(result.content)["messageArray"][0]
    assert reply["message"] == "MSG0000 - Success" and reply["senderID"] == DIP_SENDER_ID
    drain(sandbox_url)
    got = [
        i
        for r in receiver.get("/brightwatt/status")
        for i in r.items
        if i["transactionID"] == "T-X-1"
    ]
    assert got and got[0]["senderID"] == ACME


def test_statusmessage_for_someone_else_is_rejected(client: DipClient) -> None:
    d = body_for(None, sender_id="2309019001", text="RCP0000 - Message Success").to_dict()
    d["recipientID"] = BRIGHTWATT
    result = client.submit_status_messages(orjson.dumps([d]))
    assert result.status_code == 400
    bad = client.submit_status_messages(b'[{"nope": 1}]')
    assert bad.status_code == 400


def test_pubconfig_moves_deliveries_and_delete_is_204(
    client: DipClient, receiver: Receiver, sandbox_url: str, pki: Pki, sb: Sandbox
) -> None:
    moved = f"{receiver.url}/acme/if021-only"
    assert client.register_webhook("IF-021", ACME, moved).status_code == 201
    try:
        _send_one(sandbox_url, pki)
        drain(sandbox_url)
        assert receiver.get("/acme/if021-only")
    finally:
        assert client.delete_webhook("IF-021", ACME).status_code == 204
    assert sb.registry.get(ACME).webhook_for("IF-021") == f"{receiver.url}/acme/pub"  # type: ignore[union-attr]
    assert client.register_webhook("IF-021", "2309019001", moved).status_code == 403
    assert client.register_status_webhook(ACME, f"{receiver.url}/acme/status").status_code == 201


def _fault(url: str, **spec: object) -> None:
    assert httpx.post(url + "/admin/faults", headers=ADMIN, json=spec).status_code == 201


def test_delivery_faults_expired_cert_clock_skew_untrusted(
    sandbox_url: str, pki: Pki, receiver: Receiver
) -> None:
    for kind, extra, reason in (
        ("expired_cert", {}, "certificate_expired"),
        ("untrusted_cert", {}, "certificate_untrusted"),
        ("clock_skew", {"seconds": -900}, "signature_date_stale"),
    ):
        httpx.delete(sandbox_url + "/admin/faults", headers=ADMIN)
        receiver.plan("/acme/pub", 201)  # reply 201 anyway so nothing is retried
        _fault(sandbox_url, side="delivery", kind=kind, dip_id=ACME, **extra)
        before = len(receiver.get("/acme/pub"))
        _send_one(sandbox_url, pki)
        drain(sandbox_url)
        got = receiver.get("/acme/pub")[before:]
        assert got and got[0].reason == reason, (kind, got[0].reason if got else None)


def test_dip_down_answers_503_then_recovers(sandbox_url: str, pki: Pki) -> None:
    _fault(sandbox_url, side="send", kind="down", duration=0.5)
    response = send(sandbox_url, pki.dcp, if021())
    assert response.status_code == 503
    time.sleep(0.6)
    assert send(sandbox_url, pki.dcp, if021()).status_code == 201


def test_send_error_and_dropped_connection(sandbox_url: str, pki: Pki) -> None:
    _fault(sandbox_url, side="send", kind="error", status=500, rate=1.0)
    assert send(sandbox_url, pki.dcp, if021()).status_code == 500
    httpx.delete(sandbox_url + "/admin/faults", headers=ADMIN)
    _fault(sandbox_url, side="send", kind="drop", rate=1.0)
    try:
        send(sandbox_url, pki.dcp, if021())
    except httpx.HTTPError:
        pass
    else:
        raise AssertionError("the connection should have been dropped")


def test_dropped_delivery_is_retried(
    sandbox_url: str, pki: Pki, receiver: Receiver, sb: Sandbox
) -> None:
    _fault(sandbox_url, side="delivery", kind="drop", dip_id=ACME, times=2)
    txn = _send_one(sandbox_url, pki)
    drain(sandbox_url)
    states = dict((r, s) for r, s, _ in _deliveries(sb, txn))
    assert states[ACME] == "Delivered"
    sb.store.commit_sync()
    errors = sb.store.query(
        "SELECT error FROM attempts WHERE recipient_dip_id=? AND error LIKE 'connection dropped%'",
        (ACME,),
    )
    assert errors


def test_unreachable_webhook_is_retried_as_connection_error(
    sandbox_url: str, pki: Pki, sb: Sandbox
) -> None:
    entry = sb.registry.get(ACME)
    assert entry is not None
    saved = dict(entry.webhooks)
    entry.webhooks["IF-021"] = "http://127.0.0.1:9/closed"
    try:
        txn = _send_one(sandbox_url, pki)
        drain(sandbox_url)
    finally:
        entry.webhooks.clear()
        entry.webhooks.update(saved)
    assert (ACME, "RetriesExhausted", 4) in _deliveries(sb, txn)
    response = send(sandbox_url, pki.dcp, encode_messages_ok := if021())  # noqa: F841
    assert response.status_code == 201
