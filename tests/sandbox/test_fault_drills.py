"""The drill faults (drop_after, reject_batch) and the wording switch, without a server."""

from __future__ import annotations

import random

import orjson
import pytest

from sandbox.faults import FaultError, Faults
from sandbox.wording import reword_json


def test_processing_faults_hit_at_their_rate_and_count_down() -> None:
    faults = Faults(random.Random(1))
    faults.add({"side": "send", "kind": "reject_batch", "code": "MSG1007", "times": 1})
    first = faults.for_processing("1409030001")
    assert first.reject and first.code == "MSG1007" and not first.drop_after
    assert not faults.for_processing("1409030001").reject  # times=1 spent
    faults.add({"side": "send", "kind": "drop_after", "rate": 0.3})
    hits = sum(faults.for_processing(None).drop_after for _ in range(2000))
    assert 450 < hits < 750
    assert faults.for_send(None).status is None  # processing faults never pre-empt


def test_a_reject_batch_code_must_be_a_code() -> None:
    with pytest.raises(FaultError):
        Faults().add({"side": "send", "kind": "reject_batch", "code": "batch rejected"})


def test_503_retry_after_is_configurable() -> None:
    faults = Faults()
    faults.add({"side": "send", "kind": "down", "retry_after": 1})
    effects = faults.for_send(None)
    assert effects.status == 503 and effects.retry_after == 1


def test_terse_wording_keeps_only_the_codes() -> None:
    body = {
        "messageArray": [
            {"message": "MSG1000 - Batch rejected: another message failed", "help": "x"},
            {"message": "MSG1006 -Sender Unique Reference Duplicated", "help": None},
        ],
        "timestamp": "2026-12-04T18:00:00+00:00",
    }
    out = orjson.loads(reword_json(orjson.dumps(body)))
    texts = [i["message"] for i in out["messageArray"]]
    assert [t.split(" ")[0] for t in texts] == ["MSG1000", "MSG1006"]
    assert not any("atch" in t or "Duplicated" in t for t in texts)
    assert reword_json(b"not json") == b"not json"
