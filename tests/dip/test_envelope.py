"""Envelope: parse from bytes, typed CommonBlock, deterministic serialisation, D0 stamping."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dip.blocks import D0, S2, CommonBlock
from dip.codes import Side
from dip.envelope import Message, parse_batch, serialise_batch, stamp_d0, strip_d0
from dip.errors import ValidationFailure
from dip.samples import make_message, variants

DATA = Path(__file__).parent / "data"
SENT = (DATA / "if021_active_power_sent.json").read_bytes()
DELIVERED = (DATA / "if021_active_power_delivered.json").read_bytes()


def test_parse_spec_example_keeps_raw_and_exposes_fields() -> None:
    batch = parse_batch(SENT)
    assert batch.ok
    assert batch.raw == SENT
    assert len(batch.messages) == 1
    m = batch.messages[0]
    assert (m.interface_id, m.event_code, m.schema_version) == ("IF-021", "[ActivePower]", "011")
    assert m.mpan_core == "2100000123459"
    assert m.sender_unique_reference == "S-IF-021-1409012345-SDS-20250401-0000000000a1"
    assert (m.sender_dip_id, m.sender_role, m.dcp_id) == ("1409012345", "SDS", "3009012345")
    assert m.transaction_id is None
    assert m.custom is not None
    assert "B900" in m.custom
    assert m.common.S1.senderDIPID == "1409012345"
    assert m.common.D0 is None
    assert m.common.M0 is not None


def test_delivered_example_has_typed_d0() -> None:
    m = parse_batch(DELIVERED, side=Side.RCP).messages[0]
    assert m.transaction_id == "T-IF-021-1409012345-SDS-20250401-8F3A21C0D94B7E10"
    assert isinstance(m.common.D0, D0)
    assert m.common.D0.replayIndicator is False
    assert m.common.A0 is not None
    assert m.common.A0.always == ("1809012345", "2509012345")


def test_serialise_matches_the_spec_content_hash_vector() -> None:
    out = serialise_batch(json.loads(SENT))
    assert len(out) == 1048
    digest = base64.b64encode(hashlib.sha256(out).digest()).decode()
    assert digest == "Ar9UIMXkcauIrpilZAOuhj3GSA1CyKc+/bovh1Px98k="


def test_serialise_puts_blocks_and_fields_in_spec_order() -> None:
    item = json.loads(SENT)[0]
    common = item["payload"]["CommonBlock"]
    shuffled = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(common.items()))}
    item["payload"] = {"CustomBlock": item["payload"]["CustomBlock"], "CommonBlock": shuffled}
    assert serialise_batch([item]) == serialise_batch(json.loads(SENT))


def test_serialise_escapes_non_ascii_by_default() -> None:
    item = json.loads(SENT)[0]
    item["payload"]["CommonBlock"]["S1"]["subText"] = "Zürich ☃"
    out = serialise_batch([item])
    assert out.isascii()
    assert b"\\u00fc" in out
    assert json.loads(out)[0]["payload"]["CommonBlock"]["S1"]["subText"] == "Zürich ☃"
    assert "Zürich".encode() in serialise_batch([item], ascii_only=False)


def test_serialise_accepts_messages_and_bare_payloads() -> None:
    item = json.loads(SENT)[0]
    m = Message(item)
    assert serialise_batch([m]) == serialise_batch([item["payload"]]) == serialise_batch([item])


def test_stamp_d0_then_strip_is_the_sent_form() -> None:
    sent = json.loads(SENT)[0]
    delivered = stamp_d0(
        sent,
        transaction_id="T-IF-021-1409012345-SDS-20250401-8F3A21C0D94B7E10",
        transaction_timestamp="2025-04-01T06:10:02+00:00",
        publication_id="PUB-021",
        secondary_recipients=["2309012345"],
        always=["1809012345", "2509012345"],
    )
    assert serialise_batch([delivered]) == serialise_batch(json.loads(DELIVERED))
    back = strip_d0(delivered)
    assert "D0" not in back["payload"]["CommonBlock"]
    assert "D0" not in sent["payload"]["CommonBlock"]  # input not mutated


def test_typed_model_round_trip_and_s2() -> None:
    m = make_message("IF-016", "[ActivePowerRejected]", rng=random.Random(3))
    common = Message(m).common
    assert isinstance(common.S2, S2)
    assert common.R0 is not None
    assert common.R1 is not None
    assert CommonBlock.from_dict(common.to_dict()) == common
    assert list(common.to_dict()) == [b for b in ("S0", "S1", "S2", "A0", "M0", "R0", "R1")]


def test_typed_model_refuses_bad_shapes() -> None:
    bad = json.loads(SENT)[0]
    del bad["payload"]["CommonBlock"]["S1"]["subText"]
    with pytest.raises(ValidationFailure, match="subText is missing"):
        _ = Message(bad).common
    with pytest.raises(ValidationFailure):
        _ = Message([1, 2]).common


def test_accessors_never_raise_on_garbage() -> None:
    for item in (None, 1, "x", [], {"payload": 3}, {"payload": {"CommonBlock": []}}):
        m = Message(item)
        assert m.interface_id is None
        assert m.mpan_core is None
        assert m.custom is None


PAIRS = sorted(set(variants("2.1.0")))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PAIRS), st.integers(0, 2**32), st.booleans())
def test_parse_serialise_round_trip(pair: tuple[str, str], seed: int, delivered: bool) -> None:
    item = make_message(*pair, rng=random.Random(seed), delivered=delivered)
    raw = serialise_batch([item])
    batch = parse_batch(raw)
    assert batch.ok
    assert batch.data == [item]
    assert serialise_batch(batch.messages) == raw
