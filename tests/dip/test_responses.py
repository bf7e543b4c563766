"""StandardResponse model and the findings -> HTTP reply mapping (§3.3, §4.4, §5.3)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import orjson
import pytest

from dip.codes import Side, parse_code
from dip.envelope import Message
from dip.responses import (
    StandardResponse,
    StandardResponseBody,
    parse_standard_response,
    parse_status_messages,
    send_reply,
    webhook_reply,
)
from dip.validation import ValidationContext, validate_batch

DATA = Path(__file__).parent / "data"
SENT = json.loads((DATA / "if021_active_power_sent.json").read_bytes())
DELIVERED = json.loads((DATA / "if021_active_power_delivered.json").read_bytes())
NOW = "2025-04-01T06:10:03+00:00"
RCP = ValidationContext(side=Side.RCP, environment="SIT")


def test_spec_send_reply_example_parses_and_round_trips() -> None:
    raw = (DATA / "if021_send_response_201.json").read_bytes()
    resp, findings = parse_standard_response(raw)
    assert findings == []
    assert resp is not None
    body = resp.messageArray[0]
    assert body.code == "MSG0000"
    assert body.is_success
    assert resp.codes == ["MSG0000"]
    assert orjson.loads(resp.to_bytes()) == json.loads(raw)
    assert list(body.to_dict()) == [
        "transactionID", "senderUniqueReference", "correlationID", "sentTimestamp", "senderID",
        "recipientID", "DIPConnectionProviderID", "message", "help", "serviceTicketURL",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("message", "code"),
    [("MSG1001 -Schema Failure", "MSG1001"), ("RCP0000 - Message Success", "RCP0000"),
     ("SP000 - Proposed Appointment ACCEPTED", "SP000"), ("DSCA001 x", "DSCA001"),
     ("no code", None), (None, None)],
)  # fmt: skip
def test_parse_code(message: str | None, code: str | None) -> None:
    assert parse_code(message) == code


@pytest.mark.parametrize(
    "raw",
    [b"nope", b"[]", b'{"messageArray":[],"timestamp":"2025-04-01T06:10:03+00:00"}',
     b'{"messageArray":[{}],"timestamp":"2025-04-01T06:10:03+00:00"}',
     b'{"messageArray":[1],"timestamp":"x"}'],
)  # fmt: skip
def test_bad_standard_responses_give_findings(raw: bytes) -> None:
    resp, findings = parse_standard_response(raw)
    assert resp is None
    assert findings


def test_status_message_array() -> None:
    item = json.loads((DATA / "if021_send_response_201.json").read_bytes())["messageArray"][0]
    bodies, findings = parse_status_messages(json.dumps([item, item]).encode())
    assert findings == []
    assert len(bodies) == 2
    item.pop("help")
    bodies, findings = parse_status_messages(json.dumps([item]).encode())
    assert bodies == []
    assert "help" in findings[0].message


def test_webhook_201_echoes_references() -> None:
    reply = webhook_reply(
        validate_batch(json.dumps(DELIVERED).encode(), RCP), recipient_dip_id="2309012345", now=NOW
    )
    assert reply.status == 201
    b = reply.response.messageArray[0]
    assert b.transactionID == "T-IF-021-1409012345-SDS-20250401-8F3A21C0D94B7E10"
    assert b.senderUniqueReference == "S-IF-021-1409012345-SDS-20250401-0000000000a1"
    assert (b.senderID, b.recipientID, b.DIPConnectionProviderID) == (
        "2309012345",
        "1409012345",
        "3009012345",
    )
    assert b.message == "RCP0000 - Message Success"
    assert b.sentTimestamp == "2025-04-01T06:10:00+00:00"
    parsed, findings = parse_standard_response(reply.body)
    assert findings == []
    assert parsed == reply.response


def test_webhook_207_and_400() -> None:
    bad = copy.deepcopy(DELIVERED[0])
    bad["payload"]["CommonBlock"]["S1"]["environmentTag"] = "PRD"
    mixed = validate_batch(json.dumps([DELIVERED[0], bad]).encode(), RCP)
    reply = webhook_reply(mixed, recipient_dip_id="2309012345", now=NOW)
    assert reply.status == 207
    assert [b.code for b in reply.response.messageArray] == ["RCP0000", "RCP1004"]
    assert reply.response.messageArray[1].help is not None
    none_ok = validate_batch(json.dumps([bad]).encode(), RCP)
    assert webhook_reply(none_ok, recipient_dip_id="2309012345").status == 400
    garbage = webhook_reply(validate_batch(b"\xff", RCP), recipient_dip_id="2309012345", now=NOW)
    assert garbage.status == 400
    assert garbage.response.codes == ["RCP1000"]
    assert garbage.response.messageArray[0].transactionID is None


def test_send_reply_all_or_nothing() -> None:
    ctx = ValidationContext(side=Side.MSG)
    ok = validate_batch(json.dumps([*SENT, dict(SENT[0])]).encode(), ctx)

    def txn(m: Message) -> str:
        return f"T-{m.interface_id}-{m.index}"

    # second copy duplicates the SUR: an L3 error, reported asynchronously - the send is accepted
    reply = send_reply(ok, transaction_id=txn, now=NOW)
    assert reply.status == 201
    assert [b.transactionID for b in reply.response.messageArray] == [
        "T-IF-021-0",
        "T-IF-021-1",
    ]
    assert reply.response.codes == ["MSG0000", "MSG0000"]
    bad = copy.deepcopy(SENT[0])
    bad["payload"]["CommonBlock"]["M0"]["GSPGroupID"] = "_Z"
    rejected = send_reply(
        validate_batch(json.dumps([SENT[0], bad]).encode(), ctx), transaction_id=txn, now=NOW
    )
    assert rejected.status == 400
    assert [b.transactionID for b in rejected.response.messageArray] == [None, None]
    assert rejected.response.codes == ["MSG1000", "MSG1001"]
    assert send_reply(validate_batch(b"[]", ctx), transaction_id=txn).status == 400


def test_body_values_fit_the_schema_even_for_garbage() -> None:
    raw = json.dumps(
        [{"payload": {"CommonBlock": {"S1": {"senderDIPID": "x" * 50, "senderTimestamp": 5}}}}]
    )
    reply = webhook_reply(validate_batch(raw.encode(), RCP), recipient_dip_id="2309012345", now=NOW)
    parsed, findings = parse_standard_response(reply.body)
    assert findings == []
    assert parsed is not None
    assert parsed.messageArray[0].recipientID is None
    assert isinstance(parsed, StandardResponse)
    assert isinstance(parsed.messageArray[0], StandardResponseBody)
