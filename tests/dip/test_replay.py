"""dip.replay (v2.1.0 and v2.2.1) against the local mTLS server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from dip.replay import (
    MessageRequest,
    ReplayClientV210,
    ReplayClientV221,
    ReplayError,
    RequeueBusy,
    RequeueState,
    StatusMessageRequest,
    format_timestamp,
)

try:
    from tests.dip import pki_fixtures as fx
    from tests.dip.test_client import make_client
except ImportError:
    import pki_fixtures as fx  # type: ignore[no-redef]
    from test_client import make_client  # type: ignore[no-redef]

Reply, json_reply = fx.Reply, fx.json_reply
IDS = tuple(f"T-IF-021-1409012345-SDS-20250401-{i:016X}" for i in range(250))


@pytest.fixture
def dip():
    with fx.FakeDip() as server:
        yield server


def egress(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "payload": {
                "CommonBlock": {"D0": {"transactionID": IDS[start + i], "replayIndicator": True}}
            }
        }
        for i in range(n)
    ]


def test_message_request_json_and_timestamps() -> None:
    when = datetime(2025, 4, 1, 6, 10, tzinfo=UTC)
    body = json.loads(MessageRequest(datetime_from=when, event_code="[ActivePower]").to_json())
    assert body == {
        "datetimeFrom": "2025-04-01T06:10:00+00:00",
        "datetimeTo": None,
        "eventCode": "[ActivePower]",
        "MPAN": None,
        "version": None,
    }
    assert len(format_timestamp(when) or "") == 25
    with pytest.raises(ValueError):
        format_timestamp(datetime(2025, 4, 1))


def test_chunks_of_at_most_100_ids() -> None:
    chunks = list(MessageRequest(transaction_ids=IDS).chunks())
    assert [len(c.transaction_ids) for c in chunks] == [100, 100, 50]
    assert sum((c.transaction_ids for c in chunks), ()) == IDS
    assert list(MessageRequest().chunks()) == [MessageRequest()]


def test_v210_replay_chunks_250_ids_into_three_requests(dip: fx.FakeDip) -> None:
    dip.queue(
        json_reply(200, egress(100)),
        json_reply(200, egress(100, 100)),
        json_reply(200, egress(50, 200)),
    )
    with make_client(dip.base_url) as client:
        result = ReplayClientV210(client).replay(
            "IF-021", "1409012345", MessageRequest(transaction_ids=IDS)
        )
    assert result.requests == 3 and len(result.messages) == 250
    sent = [json.loads(r.body)["transactionIDs"] for r in dip.requests]
    assert [len(s) for s in sent] == [100, 100, 50] and [i for s in sent for i in s] == list(IDS)
    assert {r.path for r in dip.requests} == {"/dip-channel/IF-021/replay/1409012345"}
    assert all(r.signature_ok for r in dip.requests)


def test_v210_requeue_and_failure(dip: fx.FakeDip) -> None:
    dip.queue(Reply(200), Reply(200), Reply(200))
    with make_client(dip.base_url) as client:
        results = ReplayClientV210(client).requeue(
            "IF-021", "1409012345", MessageRequest(transaction_ids=IDS)
        )
    assert len(results) == 3 and dip.requests[0].path == "/dip-channel/IF-021/requeue/1409012345"
    dip.queue(json_reply(400, fx.standard_response("MSG1001 - Schema Failure")))
    with make_client(dip.base_url) as client, pytest.raises(ReplayError) as info:
        ReplayClientV210(client).replay("IF-021", "1409012345", MessageRequest())
    assert info.value.code == "MSG1001" and info.value.result.status_code == 400


def test_v221_replay_follows_continuation_tokens(dip: fx.FakeDip) -> None:
    dip.queue(
        json_reply(206, egress(2), {"X-Continuation-Token": "tok-1"}),
        json_reply(206, egress(2, 2), {"X-Continuation-Token": "tok-2"}),
        json_reply(200, egress(1, 4)),
    )
    with make_client(dip.base_url) as client:
        result = ReplayClientV221(client).replay(
            "IF-021", "1409012345", MessageRequest(event_code="[ActivePower]")
        )
    assert len(result.messages) == 5 and result.requests == 3
    tokens = [r.headers.get("X-Continuation-Token") for r in dip.requests]
    assert tokens == [None, "tok-1", "tok-2"]
    assert len({r.body for r in dip.requests}) == 1  # the same request body every page
    assert all(r.signature_ok for r in dip.requests)


def test_v221_206_without_token_is_an_error(dip: fx.FakeDip) -> None:
    dip.queue(json_reply(206, egress(1)))
    with (
        make_client(dip.base_url) as client,
        pytest.raises(ReplayError, match="without X-Continuation-Token"),
    ):
        ReplayClientV221(client).replay("IF-021", "1409012345", MessageRequest())


def test_v221_page_limit(dip: fx.FakeDip) -> None:
    dip.queue(*[json_reply(206, [], {"X-Continuation-Token": "again"})] * 3)
    with make_client(dip.base_url) as client, pytest.raises(ReplayError, match="exceeded 3 pages"):
        ReplayClientV221(client, max_pages=3).replay("IF-021", "1409012345", MessageRequest())


def test_v221_requeue_then_poll_until_completed(dip: fx.FakeDip) -> None:
    status = {
        "requeueId": "RQ-1",
        "percentComplete": 50,
        "totalTransactions": 10,
        "processedTransactions": 5,
    }
    dip.queue(
        json_reply(202, "RQ-1"),
        json_reply(200, [status | {"status": "Processing"}]),
        json_reply(200, [status | {"status": "Processing", "percentComplete": 90}]),
        json_reply(
            200,
            [status | {"status": "Completed", "percentComplete": 100, "processedTransactions": 10}],
        ),
    )
    sleeps: list[float] = []
    with make_client(dip.base_url) as client:
        replay = ReplayClientV221(client, sleep=sleeps.append, monotonic=lambda: 0.0)
        [requeue_id] = replay.requeue("IF-021", "1409012345", MessageRequest(mpan="2100000123459"))
        final = replay.wait_for_requeue("IF-021", "1409012345", requeue_id, poll_interval=1.0)
    assert requeue_id == "RQ-1"
    assert (
        final.status is RequeueState.COMPLETED
        and final.finished
        and final.processed_transactions == 10
    )
    assert sleeps == [1.0, 2.0]
    status_calls = dip.requests[1:]
    assert all(r.method == "GET" for r in status_calls)
    url = urlsplit(status_calls[0].path)
    assert url.path == "/dip-channel/IF-021/requeueStatus/1409012345"
    assert parse_qs(url.query) == {"requeue-id": ["RQ-1"]}
    assert all(r.signature_ok for r in dip.requests)


def test_v221_requeue_busy_is_not_retried(dip: fx.FakeDip) -> None:
    dip.queue(Reply(429), Reply(429))
    with make_client(dip.base_url) as client, pytest.raises(RequeueBusy):
        ReplayClientV221(client).requeue("IF-021", "1409012345", MessageRequest())
    assert len(dip.requests) == 1


def test_v221_requeue_status_204_and_unknown_state(dip: fx.FakeDip) -> None:
    dip.queue(Reply(204), json_reply(200, [{"requeueId": "x", "status": "Paused"}]))
    with make_client(dip.base_url) as client:
        replay = ReplayClientV221(client)
        assert replay.requeue_status("IF-021", "1409012345") == []
        [odd] = replay.requeue_status("IF-021", "1409012345", "x")
    assert odd.status == "Paused" and not odd.finished


def test_v221_wait_times_out(dip: fx.FakeDip) -> None:
    dip.queue(*[json_reply(200, [{"requeueId": "RQ-2", "status": "Processing"}])] * 5)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with make_client(dip.base_url) as client, pytest.raises(TimeoutError, match="RQ-2"):
        ReplayClientV221(client, sleep=sleep, monotonic=lambda: now[0]).wait_for_requeue(
            "IF-021", "1409012345", "RQ-2", poll_interval=10, timeout=25
        )


def test_v221_status_message_replay_and_requeue(dip: fx.FakeDip) -> None:
    dip.queue(
        json_reply(206, fx.standard_response()["messageArray"], {"X-Continuation-Token": "t"}),
        json_reply(200, fx.standard_response()["messageArray"]),
        json_reply(202, "RQ-9"),
        json_reply(200, [{"requeueId": "RQ-9", "status": "PartialCompletion"}]),
    )
    request = StatusMessageRequest(
        datetime_from="2025-04-01T00:00:00+00:00", datetime_to=datetime(2025, 4, 2, tzinfo=UTC)
    )
    with make_client(dip.base_url) as client:
        replay = ReplayClientV221(client)
        result = replay.replay_status_messages("1409012345", request)
        requeue_id = replay.requeue_status_messages("1409012345", request)
        [status] = replay.status_message_requeue_status("1409012345", requeue_id)
    assert len(result.messages) == 2 and requeue_id == "RQ-9"
    assert status.status is RequeueState.PARTIAL_COMPLETION and status.finished
    paths = [urlsplit(r.path).path for r in dip.requests]
    assert paths == [
        "/statusmessage/replay/1409012345",
        "/statusmessage/replay/1409012345",
        "/statusmessage/requeue/1409012345",
        "/statusmessage/requeueStatus/1409012345",
    ]
    assert json.loads(dip.requests[0].body)["datetimeTo"] == "2025-04-02T00:00:00+00:00"


def test_v221_requeue_202_without_id(dip: fx.FakeDip) -> None:
    dip.queue(Reply(202, b"not json"))
    with make_client(dip.base_url) as client, pytest.raises(ReplayError, match="RequeueId"):
        ReplayClientV221(client).requeue("IF-021", "1409012345", MessageRequest())
