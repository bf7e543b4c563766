"""Send API over HTTP: acceptance, delivery to the subscribed webhook, every rejection class."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson

from dip.client import DipClient, encode_messages
from sandbox.core import Sandbox
from tests.sandbox.conftest import Pki, Receiver, drain
from tests.sandbox.helpers import ACME, BRIGHTWATT, DCP, GREENFIELD, codes, if021, post_signed, send


def test_valid_batch_is_accepted_and_delivered_signed(
    client: DipClient, receiver: Receiver, sandbox_url: str
) -> None:
    before = len(receiver.get("/acme/pub"))
    messages = if021(3)
    result = client.send("IF-021", encode_messages(messages))
    assert result.status_code == 201
    reply = result.content and orjson.loads(result.content)
    txns = [i["transactionID"] for i in reply["messageArray"]]
    assert all(t.startswith(f"T-IF-021-{BRIGHTWATT}-SDS-") for t in txns)
    assert [i["message"] for i in reply["messageArray"]] == ["MSG0000 - Success"] * 3
    drain(sandbox_url)
    callbacks = receiver.get("/acme/pub")[before:]
    assert len(callbacks) == 1, "one signed callback carries the batch for one recipient"
    cb = callbacks[0]
    assert cb.verified, cb.reason
    assert cb.headers["x-dip-mpo"] == "ACME"
    items = cb.items
    assert [i["payload"]["CommonBlock"]["D0"]["transactionID"] for i in items] == txns
    d0 = items[0]["payload"]["CommonBlock"]["D0"]
    assert d0["publicationID"] == "PUB-021" and d0["replayIndicator"] is False
    a0 = items[0]["payload"]["CommonBlock"]["A0"]
    assert ACME in a0["secondaryRecipients"]
    # the sender's blocks pass through unchanged
    assert items[0]["payload"]["CommonBlock"]["S1"] == messages[0]["payload"]["CommonBlock"]["S1"]


def test_bad_or_missing_api_key_is_401(sandbox_url: str, pki: Pki) -> None:
    body = encode_messages(if021())
    url = f"{sandbox_url}/dip-channel/IF-021"
    assert post_signed(url, body, pki.dcp, api_key="wrong").status_code == 401
    assert post_signed(url, body, pki.dcp, api_key=None).status_code == 401


def _reason(response: httpx.Response) -> str:
    return str(response.json()["messageArray"][0]["help"])


def test_signature_failures_are_403_with_the_reason(sandbox_url: str, pki: Pki) -> None:
    url = f"{sandbox_url}/dip-channel/IF-021"
    body = encode_messages(if021())
    cases = {
        "content_hash_mismatch": post_signed(url, body, pki.dcp, tamper=True),
        "certificate_expired": post_signed(url, body, pki.expired),
        "certificate_untrusted": post_signed(url, body, pki.untrusted),
        "signature_date_stale": post_signed(
            url, body, pki.dcp, now=datetime.now(UTC) - timedelta(minutes=10)
        ),
        "signature_date_future": post_signed(
            url, body, pki.dcp, now=datetime.now(UTC) + timedelta(minutes=10)
        ),
    }
    for reason, response in cases.items():
        assert response.status_code == 403, reason
        assert _reason(response).startswith(reason), (reason, _reason(response))
        assert codes(response) == ["MSG1000"]


def test_signature_over_another_url_is_invalid(sandbox_url: str, pki: Pki) -> None:
    from dip.signing import sign_request

    body = encode_messages(if021())
    headers = sign_request(
        method="POST", url=f"{sandbox_url}/dip-channel/IF-005", body=body, identity=pki.dcp
    )
    headers["X-API-Key"] = "test-dcp-key"
    response = httpx.post(f"{sandbox_url}/dip-channel/IF-021", content=body, headers=headers)
    assert response.status_code == 403
    assert _reason(response).startswith("signature_invalid")


def test_undecodable_bodies_are_400_msg1000(sandbox_url: str, pki: Pki) -> None:
    url = f"{sandbox_url}/dip-channel/IF-021"
    for body in (b'[{"payload": "\xff\xfe"}]', b"[{not json", b"[NaN]"):
        response = post_signed(url, body, pki.dcp)
        assert response.status_code == 400, body
        assert codes(response) == ["MSG1000"]


def test_schema_failure_is_msg1001(sandbox_url: str, pki: Pki) -> None:
    msg = if021()[0]
    del msg["payload"]["CommonBlock"]["S1"]["subText"]  # mandatory nullable key missing
    response = send(sandbox_url, pki.dcp, [msg])
    assert response.status_code == 400
    assert codes(response) == ["MSG1001"]


def test_wrong_interface_path_is_msg1002(sandbox_url: str, pki: Pki) -> None:
    response = send(sandbox_url, pki.dcp, if021(), channel="IF-005")
    assert response.status_code == 400
    assert codes(response) == ["MSG1002"]
    unknown = send(sandbox_url, pki.dcp, if021(), channel="IF-999")
    assert unknown.status_code == 400
    assert codes(unknown) == ["MSG1002"]


def test_duplicate_sur_is_msg1006_across_and_within_batches(sandbox_url: str, pki: Pki) -> None:
    first = if021()
    assert send(sandbox_url, pki.dcp, first).status_code == 201
    again = send(sandbox_url, pki.dcp, first)
    assert again.status_code == 400 and codes(again) == ["MSG1006"]
    twin = if021()
    within = send(sandbox_url, pki.dcp, [twin[0], twin[0]])
    assert within.status_code == 400
    assert codes(within)[1] == "MSG1006"


def test_sender_that_did_not_nominate_the_dcp_is_msg1011(sandbox_url: str, pki: Pki) -> None:
    response = send(sandbox_url, pki.dcp, if021(sender=GREENFIELD))
    assert response.status_code == 400
    assert codes(response) == ["MSG1011"]


def test_another_dcp_id_in_s1_is_msg1011(sandbox_url: str, pki: Pki) -> None:
    response = send(sandbox_url, pki.dcp, if021(dcp="3009099999"))
    assert response.status_code == 400
    assert "MSG1011" in codes(response)


def test_wrong_environment_is_rejected(sandbox_url: str, pki: Pki) -> None:
    response = send(sandbox_url, pki.dcp, if021(environment="PRD"))
    assert response.status_code == 400
    assert codes(response) == ["MSG1001"]
    assert "environmentTag" in response.json()["messageArray"][0]["help"]


def test_batch_is_all_or_nothing(sandbox_url: str, pki: Pki, sb: Sandbox) -> None:
    good, bad = if021(2)
    bad["payload"]["CommonBlock"]["S0"]["eventCode"] = "[Nonsense]"
    accepted = sb.router.accepted
    response = send(sandbox_url, pki.dcp, [good, bad])
    assert response.status_code == 400
    assert codes(response)[0] == "MSG1000"  # rejected because another message failed
    assert codes(response)[1] == "MSG1001"
    assert sb.router.accepted == accepted
    assert send(sandbox_url, pki.dcp, [good]).status_code == 201  # its SUR was not consumed


def test_validate_endpoint(sandbox_url: str) -> None:
    body = encode_messages(if021())
    headers = {"X-API-Key": "test-dcp-key", "Content-Type": "application/json"}
    ok = httpx.post(f"{sandbox_url}/validate/IF-021/ActivePower", content=body, headers=headers)
    assert ok.status_code == 201 and ok.text == "Message OK"
    wrong = httpx.post(
        f"{sandbox_url}/validate/IF-021/ReactivePower", content=body, headers=headers
    )
    assert wrong.status_code == 400


def test_same_api_through_an_edition_prefix(pki: Pki, sandbox_url: str) -> None:
    with DipClient(
        base_url=f"{sandbox_url}/v2.2.1", api_key="test-dcp-key", identity=pki.dcp
    ) as client:
        assert client.send("IF-021", encode_messages(if021())).status_code == 201


def test_dcp_id_is_ours(sb: Sandbox) -> None:
    assert sb.registry.get(DCP) is not None and sb.registry.get(DCP).is_dcp  # type: ignore[union-attr]
