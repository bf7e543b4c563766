"""Replay and requeue in both spec editions, driven by dip/replay.py's clients (§6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dip.client import DipClient, encode_messages
from dip.replay import (
    MessageRequest,
    ReplayClientV210,
    ReplayClientV221,
    ReplayError,
    RequeueBusy,
    RequeueState,
    StatusMessageRequest,
)
from tests.sandbox.conftest import Pki, Receiver, drain
from tests.sandbox.helpers import ACME, ADMIN, BRIGHTWATT, GREENFIELD, MPAN, if021, post_signed


@pytest.fixture
def v221(sandbox_url: str, pki: Pki) -> Iterator[DipClient]:
    with DipClient(base_url=f"{sandbox_url}/v2.2.1", api_key="test-dcp-key", identity=pki.dcp) as c:
        yield c


def _sent(client: DipClient, n: int) -> list[str]:
    result = client.send("IF-021", encode_messages(if021(n)))
    assert result.status_code == 201, result.content
    assert result.response is not None
    return [str(i.transaction_id) for i in result.response.items]


def _txn(item: dict[str, object]) -> str:
    return item["payload"]["CommonBlock"]["D0"]["transactionID"]  # type: ignore[index]


def test_v210_replay_by_ids_and_filters(client: DipClient, sandbox_url: str) -> None:
    started = datetime.now(UTC) - timedelta(seconds=2)
    txns = _sent(client, 3)
    replay = ReplayClientV210(client)
    got = replay.replay("IF-021", ACME, MessageRequest(transaction_ids=tuple(txns)))
    assert sorted(_txn(i) for i in got.messages) == sorted(txns)
    assert all(i["payload"]["CommonBlock"]["D0"]["replayIndicator"] is True for i in got.messages)
    assert got.requests == 1
    window = replay.replay(
        "IF-021", ACME, MessageRequest(datetime_from=started, mpan=MPAN, event_code="[ActivePower]")
    )
    assert set(txns) <= {_txn(i) for i in window.messages}
    none = replay.replay("IF-021", ACME, MessageRequest(event_code="[ReactivePower]", mpan=MPAN))
    assert not {_txn(i) for i in none.messages} & set(txns)


def test_v210_more_than_100_ids_are_chunked_by_the_client(
    client: DipClient, sandbox_url: str, pki: Pki
) -> None:
    txns = _sent(client, 2)
    ids = tuple(txns) + tuple(f"T-none-{i}" for i in range(150))
    got = ReplayClientV210(client).replay("IF-021", ACME, MessageRequest(transaction_ids=ids))
    assert got.requests == 2 and sorted(_txn(i) for i in got.messages) == sorted(txns)
    raw = MessageRequest(transaction_ids=ids[:101])
    body = raw.to_json()  # the client would split this; the API must refuse it
    response = post_signed(f"{sandbox_url}/dip-channel/IF-021/replay/{ACME}", body, pki.dcp)
    assert response.status_code == 400
    assert response.json()["messageArray"][0]["message"].startswith("MSG1001")


def test_v210_requeue_redelivers_with_replay_indicator(
    client: DipClient, receiver: Receiver, sandbox_url: str
) -> None:
    txns = _sent(client, 2)
    drain(sandbox_url)
    before = len(receiver.get("/acme/pub"))
    results = ReplayClientV210(client).requeue(
        "IF-021", ACME, MessageRequest(transaction_ids=tuple(txns))
    )
    assert [r.status_code for r in results] == [200]
    drain(sandbox_url)
    again = [i for r in receiver.get("/acme/pub")[before:] for i in r.items]
    assert sorted(_txn(i) for i in again) == sorted(txns)
    assert all(i["payload"]["CommonBlock"]["D0"]["replayIndicator"] for i in again)


def test_replay_only_for_represented_dip_ids(client: DipClient) -> None:
    with pytest.raises(ReplayError):
        ReplayClientV210(client).replay("IF-021", GREENFIELD, MessageRequest())


def test_v221_replay_pages_with_continuation_tokens(v221: DipClient) -> None:
    txns = _sent(v221, 3)
    got = ReplayClientV221(v221).replay("IF-021", ACME, MessageRequest(transaction_ids=tuple(txns)))
    assert sorted(_txn(i) for i in got.messages) == sorted(txns)
    assert [r.status_code for r in got.responses] == [206, 200]  # page size 2 in the tests


def test_v221_bad_continuation_token_is_400(sandbox_url: str, pki: Pki) -> None:
    body = MessageRequest().to_json()
    from dip.signing import sign_request

    url = f"{sandbox_url}/v2.2.1/dip-channel/IF-021/replay/{ACME}"
    headers = sign_request(method="POST", url=url, body=body, identity=pki.dcp)
    headers |= {"X-API-Key": "test-dcp-key", "X-Continuation-Token": "bm9wZQ=="}
    assert httpx.post(url, content=body, headers=headers).status_code == 400


def test_v221_requeue_202_and_status_polling(
    v221: DipClient, receiver: Receiver, sandbox_url: str
) -> None:
    txns = _sent(v221, 3)
    drain(sandbox_url)
    client = ReplayClientV221(v221)
    (requeue_id,) = client.requeue("IF-021", ACME, MessageRequest(transaction_ids=tuple(txns)))
    assert requeue_id.startswith(ACME)
    final = client.wait_for_requeue("IF-021", ACME, requeue_id, poll_interval=0.05, timeout=10)
    assert final.status is RequeueState.COMPLETED
    assert final.total_transactions == 3 and final.percent_complete == 100.0
    statuses = client.requeue_status("IF-021", ACME)
    assert requeue_id in {s.requeue_id for s in statuses}


def test_v221_requeue_busy_is_429(v221: DipClient, sandbox_url: str) -> None:
    txns = _sent(v221, 1)
    drain(sandbox_url)
    httpx.post(sandbox_url + "/admin/faults", headers=ADMIN,
               json={"side": "delivery", "kind": "delay", "seconds": 0.5, "dip_id": ACME})  # fmt: skip
    client = ReplayClientV221(v221)
    client.requeue("IF-021", ACME, MessageRequest(transaction_ids=tuple(txns)))
    with pytest.raises(RequeueBusy):
        client.requeue("IF-021", ACME, MessageRequest(transaction_ids=tuple(txns)))


def test_v210_has_no_requeue_status(client: DipClient) -> None:
    assert client.request("GET", f"/dip-channel/IF-021/requeueStatus/{ACME}").status_code in (
        404,
        405,
    )


def test_v221_status_message_replay_and_requeue(
    v221: DipClient, receiver: Receiver, sandbox_url: str
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=2)
    txns = _sent(v221, 1)
    drain(sandbox_url)
    client = ReplayClientV221(v221)
    window = StatusMessageRequest(
        datetime_from=started, datetime_to=datetime.now(UTC) + timedelta(seconds=5)
    )
    for _ in range(50):  # the simulated LDSO answers after a short delay
        got = client.replay_status_messages(BRIGHTWATT, window)
        if any(i["transactionID"] == txns[0] for i in got.messages):
            break
        drain(sandbox_url)
    assert any(
        i["transactionID"] == txns[0] and i["senderID"] == "2509010001" for i in got.messages
    )
    before = len(receiver.get("/brightwatt/status"))
    requeue_id = client.requeue_status_messages(
        BRIGHTWATT,
        StatusMessageRequest(
            started, datetime.now(UTC) + timedelta(seconds=5), transaction_id=txns[0]
        ),
    )
    drain(sandbox_url)
    assert any(s.requeue_id == requeue_id for s in client.status_message_requeue_status(BRIGHTWATT))
    again = [i for r in receiver.get("/brightwatt/status")[before:] for i in r.items]
    assert any(i["transactionID"] == txns[0] for i in again)
