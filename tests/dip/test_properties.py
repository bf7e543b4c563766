"""Property tests: whatever bytes arrive, the library returns findings and never raises."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dip.codes import Side
from dip.envelope import serialise_batch
from dip.responses import webhook_reply
from dip.samples import make_message
from dip.validation import ValidationContext, validate_batch

VALID = serialise_batch([make_message("IF-021", rng=random.Random(1), periods=3)])
CTX = {side: ValidationContext(side=side, environment="UIT") for side in Side}
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(raw: bytes, side: Side) -> None:
    report = validate_batch(raw, CTX[side])
    assert report.ok or any(f.is_error for f in report.findings)
    webhook_reply(report, recipient_dip_id="2309012345")  # the reply never raises either


@FAST
@given(st.binary(max_size=300), st.sampled_from(list(Side)))
def test_garbage_bytes_never_raise(raw: bytes, side: Side) -> None:
    report = validate_batch(raw, CTX[side])
    assert not report.ok
    assert report.findings


@FAST
@given(st.data(), st.sampled_from(list(Side)))
def test_mutated_valid_bytes_never_raise(data: st.DataObject, side: Side) -> None:
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if op == "flip":
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "delete":
            del raw[pos]
        else:
            raw.insert(pos, data.draw(st.integers(0, 255)))
    _check(bytes(raw), side)


@FAST
@given(JSON_VALUES, st.sampled_from(list(Side)))
def test_arbitrary_json_never_raises(value: object, side: Side) -> None:
    import json

    _check(json.dumps(value).encode(), side)
    _check(json.dumps([value]).encode(), side)
    _check(json.dumps([{"payload": value}]).encode(), side)


@FAST
@given(st.sampled_from(["S0", "S1", "M0", "A0", "D0"]), st.text(max_size=8), JSON_VALUES)
def test_field_replacement_never_raises(block: str, key: str, value: object) -> None:
    import json

    item = json.loads(VALID)
    common = item[0]["payload"]["CommonBlock"]
    target = common.setdefault(block, {})
    if isinstance(target, dict):
        target[key or "x"] = value
    _check(json.dumps(item).encode(), Side.MSG)
