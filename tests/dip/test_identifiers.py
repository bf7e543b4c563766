"""Identifier validators (PROTOCOL.md §2): MPAN check digit, DIP ID, MPID, roles, SUR, times."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dip import identifiers as ids
from dip.codes import Side
from dip.errors import Level, Severity

DIGITS12 = st.text(alphabet="0123456789", min_size=12, max_size=12)


@pytest.mark.parametrize("mpan", ["2000056535971", "2100000123459"])
def test_spec_mpans_are_valid(mpan: str) -> None:
    assert ids.is_valid_mpan_core(mpan)
    assert ids.check_mpan_core(mpan) is None


def test_worked_example_check_digit() -> None:
    assert ids.mpan_check_digit("200005653597") == 1


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2000056535972", "expected 1, got 2"),
        ("200005653597", "exactly 13 ASCII digits"),
        ("20000565359710", "exactly 13 ASCII digits"),
        ("\uff12000056535971", "exactly 13 ASCII digits"),  # full-width digit
        ("2000056535971\n", "exactly 13 ASCII digits"),
        (2000056535971, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_bad_mpan_has_precise_message(value: object, fragment: str) -> None:
    f = ids.check_mpan_core(value, path="$.x", side=Side.RCP)
    assert f is not None
    assert fragment in f.message
    assert (f.code, f.path, f.severity, f.level) == ("RCP1061", "$.x", Severity.ERROR, Level.SCHEMA)
    assert ids.check_mpan_core(value, side=Side.MSG).code == "MSG1001"  # type: ignore[union-attr]


@settings(max_examples=200)
@given(DIGITS12)
def test_with_check_digit_always_valid(first12: str) -> None:
    mpan = ids.with_check_digit(first12)
    assert len(mpan) == 13
    assert ids.is_valid_mpan_core(mpan)


@settings(max_examples=200)
@given(DIGITS12, st.integers(0, 9))
def test_only_one_check_digit_is_valid(first12: str, digit: int) -> None:
    mpan = first12 + str(digit)
    assert ids.is_valid_mpan_core(mpan) == (digit == ids.mpan_check_digit(first12))


@settings(max_examples=100)
@given(DIGITS12, st.integers(0, 11), st.integers(1, 9))
def test_single_digit_change_is_usually_caught(first12: str, pos: int, delta: int) -> None:
    # weights are distinct primes < 11*... so a single-digit change alters the sum mod 11
    # unless delta * weight is a multiple of 11 (never, 11 is skipped) - but mod 10 may fold 10->0
    changed = first12[:pos] + str((int(first12[pos]) + delta) % 10) + first12[pos + 1 :]
    a, b = ids.mpan_check_digit(first12), ids.mpan_check_digit(changed)
    raw_a = sum(int(d) * w for d, w in zip(first12, ids.MPAN_WEIGHTS, strict=True)) % 11
    raw_b = sum(int(d) * w for d, w in zip(changed, ids.MPAN_WEIGHTS, strict=True)) % 11
    assert raw_a != raw_b
    assert a != b or {raw_a, raw_b} == {0, 10}


def test_check_digit_helper_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="12 ASCII digits"):
        ids.mpan_check_digit("12345")


def test_dip_id_mpid_role_gsp_environment() -> None:
    assert ids.check_dip_id("1409012345") is None
    assert "exactly 10" in ids.check_dip_id("140901234").message  # type: ignore[union-attr]
    assert ids.check_mpid("EMEB") is None
    assert "4 upper-case" in ids.check_mpid("emeb").message  # type: ignore[union-attr]
    assert ids.check_role("SDS") is None
    assert ids.check_role("XYZ", side=Side.RCP).code == "RCP1010"  # type: ignore[union-attr]
    assert ids.check_gsp_group("_K") is None
    assert ids.check_gsp_group("_I") is not None
    assert len(ids.GSP_GROUPS) == 14
    assert ids.check_environment("UIT", expected="UIT") is None
    f = ids.check_environment("PRD", expected="UIT", side=Side.RCP)
    assert f is not None
    assert f.code == "RCP1004"
    assert "does not match" in f.message
    assert ids.check_environment("PROD") is not None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2025-04-01T06:10:00+00:00", True),
        ("2025-04-01T06:10:00+01:00", True),
        ("2025-04-01T06:10:00Z", False),
        ("2025-04-01T06:10:00.000+00", False),
        ("2025-02-30T06:10:00+00:00", False),
        ("2025-04-01 06:10:00+00:00", False),
        (12, False),
    ],
)
def test_timestamps(value: object, ok: bool) -> None:
    assert (ids.check_timestamp(value) is None) is ok


def test_sur_patterns_per_spec_version() -> None:
    sur = "S-IF-021-1409012345-SDS-20250401-0000000000a1"
    assert ids.check_sur(sur, spec_version="2.1.0") is None
    assert ids.check_sur(sur, spec_version="2.2.1") is None
    rep = "S-REP-002A-1409012345-ECS-20250401-abc"
    assert ids.check_sur(rep, spec_version="2.1.0") is not None
    assert ids.check_sur(rep, spec_version="2.2.1") is None
    four = "S-IF-0021-1409012345-SDS-20250401-abc"
    assert ids.check_sur(four, spec_version="2.1.0") is None
    assert ids.check_sur(four, spec_version="2.2.1") is not None
    assert ids.check_sur("S-IF-021-1409012345-SDS-20250401-a_b", side=Side.RCP).code == "RCP1006"  # type: ignore[union-attr]


def test_correlation_and_transaction_ids() -> None:
    assert ids.check_correlation_id(None) is None
    assert ids.check_correlation_id(None, nullable=False) is not None
    assert ids.check_correlation_id("x" * 61) is not None
    assert ids.check_transaction_id("T-IF-021-1409012345-SDS-20250401-8F3A21C0D94B7E10") is None
    assert ids.check_transaction_id("x" * 66) is not None
