"""Staged validation: one test per malformed-input class, levels, hooks and business rules."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dip.codes import Side
from dip.envelope import Message
from dip.errors import Finding, Level, Severity
from dip.validation import (
    RuleRegistry,
    ValidationContext,
    business_finding,
    validate_batch,
    validate_message,
)

DATA = Path(__file__).parent / "data"
SENT: list[Any] = json.loads((DATA / "if021_active_power_sent.json").read_bytes())
DELIVERED: list[Any] = json.loads((DATA / "if021_active_power_delivered.json").read_bytes())
MSG = ValidationContext(side=Side.MSG, environment="SIT", channel_interface_id="IF-021")
RCP = ValidationContext(side=Side.RCP, environment="SIT")


def first_error(raw: bytes, ctx: ValidationContext) -> Finding:
    report = validate_batch(raw, ctx)
    errors = [f for f in report.findings if f.is_error]
    assert errors, "expected an error"
    return errors[0]


def mutate(fn: Callable[[dict[str, Any]], None], base: list[Any] = SENT) -> bytes:
    batch = copy.deepcopy(base)
    fn(batch[0]["payload"])
    return json.dumps(batch).encode()


def common(p: dict[str, Any]) -> dict[str, Any]:
    return p["CommonBlock"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("spec_version", ["2.1.0", "2.2.1"])
def test_spec_examples_validate(spec_version: str) -> None:
    sent = json.dumps(SENT).encode()
    delivered = json.dumps(DELIVERED).encode()
    msg = ValidationContext(
        side=Side.MSG,
        spec_version=spec_version,
        environment="SIT",
        channel_interface_id="IF-021",
        dcp_dip_id="3009012345",
    )
    rcp = ValidationContext(
        side=Side.RCP, spec_version=spec_version, environment="SIT", recipient_dip_id="2309012345"
    )
    for raw, ctx in ((sent, msg), (delivered, rcp)):
        report = validate_batch(raw, ctx)
        assert report.ok, report.findings
        assert report.findings == []
        assert report.results[0].level_reached is Level.BUSINESS


# -- level 1 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "msg_code", "rcp_code", "fragment"),
    [
        (b'[{"payload":{}}]\xff', "MSG1000", "RCP1000", "not valid UTF-8"),
        (b"\xc3\x28", "MSG1000", "RCP1000", "not valid UTF-8"),
        (b'[{"payload":', "MSG1000", "RCP1000", "not valid JSON"),
        (b"[NaN]", "MSG1000", "RCP1000", "not valid JSON"),
        (b"", "MSG1000", "RCP1000", "not valid JSON"),
        (b'{"payload":{}}', "MSG1001", "RCP1001", "must be a JSON array"),
        (b"[]", "MSG1001", "RCP1001", "at least one message"),
        (b"[1]", "MSG1001", "RCP1001", "must be an object"),
        (b'[{"pay":{}}]', "MSG1001", "RCP1021", "no 'payload'"),
        (b'[{"payload":{},"x":1}]', "MSG1001", "RCP1001", "besides 'payload'"),
        (b'[{"payload":[]}]', "MSG1001", "RCP1001", "payload must be an object"),
    ],
)
def test_syntax_failures(raw: bytes, msg_code: str, rcp_code: str, fragment: str) -> None:
    for side, code in ((Side.MSG, msg_code), (Side.RCP, rcp_code)):
        f = first_error(raw, ValidationContext(side=side))
        assert (f.code, f.level) == (code, Level.SYNTAX)
        assert fragment in f.message


def test_oversized_body() -> None:
    raw = json.dumps(SENT).encode()
    report = validate_batch(raw, ValidationContext(max_bytes=len(raw) - 1))
    assert report.batch.too_large
    assert not report.results
    assert report.findings[0].code == "MSG1000"
    assert "byte limit" in report.findings[0].message


def test_duplicate_keys_rejected_when_asked() -> None:
    raw = b'[{"payload":{"CommonBlock":{},"CommonBlock":{}}}]'
    assert (
        "duplicate key" in first_error(raw, ValidationContext(reject_duplicate_keys=True)).message
    )


# -- level 2 --------------------------------------------------------------------------------


def _set(block: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda p: common(p)[block].__setitem__(key, value)


def _del(block: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda p: common(p)[block].pop(key)


@pytest.mark.parametrize(
    ("change", "msg_code", "rcp_code", "path_end"),
    [
        (_set("S0", "interfaceID", "IF-099"), "MSG1002", "RCP1002", "S0.interfaceID"),
        (_set("S0", "eventCode", "[Nope]"), "MSG1001", "RCP1003", "S0.eventCode"),
        (_set("S0", "eventCode", "ActivePower"), "MSG1001", "RCP1003", "S0.eventCode"),
        (_set("S0", "schemaVersion", "010"), "MSG1001", "RCP1005", "S0.schemaVersion"),
        (_del("S1", "subText"), "MSG1001", "RCP1021", "S1.subText"),  # mandatory nullable
        (_del("S1", "DIPConnectionProviderID"), "MSG1011", "RCP1001", "S1.DIPConnectionProviderID"),
        (_set("S1", "senderDIPID", 1409012345), "MSG1009", "RCP1009", "S1.senderDIPID"),
        (_set("S1", "senderDIPID", "140901234"), "MSG1009", "RCP1009", "S1.senderDIPID"),
        (_set("S1", "environmentTag", "PROD"), "MSG1001", "RCP1004", "S1.environmentTag"),
        (
            _set("S1", "senderUniqueReference", "ref-1"),
            "MSG1001",
            "RCP1006",
            "S1.senderUniqueReference",
        ),
        (
            _set("S1", "senderTimestamp", "2025-04-01T06:10:00Z"),
            "MSG1007",
            "RCP1007",
            "S1.senderTimestamp",
        ),
        (
            _set("S1", "senderTimestamp", "2025-13-01T06:10:00+00:00"),
            "MSG1007",
            "RCP1007",
            "S1.senderTimestamp",
        ),
        (_set("S1", "extra", 1), "MSG1001", "RCP1001", "CommonBlock.S1"),  # additional property
        (_set("M0", "GSPGroupID", "_Z"), "MSG1001", "RCP1022", "M0.GSPGroupID"),
        (_set("M0", "MPANCore", "2100000123458"), "MSG1001", "RCP1061", "M0.MPANCore"),
        (_set("M0", "MPANCore", "21000001234"), "MSG1001", "RCP1061", "M0.MPANCore"),
        (_del("M0", "distributorDIPID"), "MSG1001", "RCP1021", "M0.distributorDIPID"),
        (lambda p: common(p).pop("M0"), "MSG1001", "RCP1021", "CommonBlock.M0"),
        (lambda p: p.pop("CustomBlock"), "MSG1001", "RCP1021", "payload.CustomBlock"),
        (lambda p: p["CustomBlock"].pop("B044"), "MSG1001", "RCP1021", "CustomBlock.B044"),
        (lambda p: p["CustomBlock"]["B044"].update(x=1), "MSG1001", "RCP1001", "CustomBlock.B044"),
        (
            lambda p: common(p).update(
                A0={"primaryRecipients": ["1"], "secondaryRecipients": [], "always": []}
            ),
            "MSG1031",
            "RCP1041",
            "A0.primaryRecipients[0]",
        ),
        (
            lambda p: p["CustomBlock"]["B900"]["settlementDayConsumptionPeriods"][0][
                "consumptionPeriods"
            ][1].update(q="Q"),
            "MSG1001",
            "RCP1022",
            "consumptionPeriods[1].q",
        ),
        (
            lambda p: p["CustomBlock"]["B900"]["settlementDayConsumptionPeriods"][0][
                "consumptionPeriods"
            ][0].update(v=0.4),
            "MSG1001",
            "RCP1001",
            "consumptionPeriods[0].v",
        ),
        (
            lambda p: p["CustomBlock"]["B900"]["settlementDayConsumptionPeriods"][0][
                "consumptionPeriods"
            ][0].pop("e"),
            "MSG1001",
            "RCP1021",
            "consumptionPeriods[0].e",
        ),
    ],
)
def test_schema_failures(
    change: Callable[[dict[str, Any]], None], msg_code: str, rcp_code: str, path_end: str
) -> None:
    for side, code, base in ((Side.MSG, msg_code, SENT), (Side.RCP, rcp_code, DELIVERED)):
        f = first_error(mutate(change, base), ValidationContext(side=side))
        assert (f.code, f.level, f.index) == (code, Level.SCHEMA, 0), f
        assert f.path.startswith("$[0].payload."), f.path
        assert f.path.endswith(path_end), f.path


def test_missing_nullable_field_message_is_explicit() -> None:
    f = first_error(mutate(_del("S1", "senderCorrelationID")), MSG)
    assert f.path == "$[0].payload.CommonBlock.S1.senderCorrelationID"
    assert "missing" in f.message
    assert "null" in f.message


def test_null_is_fine_for_nullable_but_not_for_mandatory() -> None:
    assert validate_batch(mutate(_set("S1", "senderCorrelationID", None)), MSG).ok
    assert first_error(mutate(_set("S1", "senderDIPID", None)), MSG).code == "MSG1009"
    assert first_error(mutate(_set("S1", "subText", "")), MSG).code == "MSG1001"  # minLength 1


def test_d0_checked_on_delivery() -> None:
    f = first_error(mutate(_set("D0", "replayIndicator", None), DELIVERED), RCP)
    assert f.code == "RCP1047"
    f = first_error(mutate(_set("D0", "transactionTimestamp", "2025-04-01"), DELIVERED), RCP)
    assert f.code == "RCP1044"


# -- level 3 --------------------------------------------------------------------------------


def test_wrong_role_for_interface() -> None:
    for side, code, base in ((Side.MSG, "MSG1010", SENT), (Side.RCP, "RCP1010", DELIVERED)):
        f = first_error(
            mutate(_set("S1", "senderRoleID", "SUP"), base), ValidationContext(side=side)
        )
        assert (f.code, f.level) == (code, Level.CONTEXT)
        assert "may not send IF-021" in f.message


def test_wrong_environment_tag() -> None:
    f = first_error(mutate(_set("S1", "environmentTag", "PRD")), MSG)
    assert (f.code, f.level) == ("MSG1001", Level.CONTEXT)
    f = first_error(mutate(_set("S1", "environmentTag", "PRD"), DELIVERED), RCP)
    assert (f.code, f.level) == ("RCP1004", Level.CONTEXT)


def test_channel_mismatch() -> None:
    ctx = ValidationContext(side=Side.MSG, channel_interface_id="IF-013")
    f = first_error(json.dumps(SENT).encode(), ctx)
    assert f.code == "MSG1002"
    assert "does not match the channel IF-013" in f.message


def test_dcp_and_hooks() -> None:
    raw = json.dumps(SENT).encode()
    assert first_error(raw, ValidationContext(dcp_dip_id="3009999999")).code == "MSG1011"
    f = first_error(raw, ValidationContext(is_nominated=lambda sender, dcp: False))
    assert f.code == "MSG1011"
    assert "has not nominated" in f.message
    assert validate_batch(
        raw, ValidationContext(is_nominated=lambda s, d: (s, d) == ("1409012345", "3009012345"))
    ).ok
    assert first_error(raw, ValidationContext(is_known_dip_id=lambda d: False)).code == "MSG1009"
    a0 = {"primaryRecipients": ["2309012345"], "secondaryRecipients": [], "always": []}
    raw2 = mutate(lambda p: common(p).update(A0=a0))
    f = first_error(raw2, ValidationContext(is_known_dip_id=lambda d: d != "2309012345"))
    assert f.code == "MSG1031"
    assert f.path.endswith("A0.primaryRecipients[0]")


def test_duplicate_sur_in_batch_and_via_hook() -> None:
    raw = json.dumps(SENT + SENT).encode()
    report = validate_batch(raw, MSG)
    assert report.results[0].ok
    assert report.results[1].first_error.code == "MSG1006"
    f = first_error(
        json.dumps(SENT).encode(), ValidationContext(is_duplicate_sur=lambda d, s: True)
    )
    assert f.code == "MSG1006"


def test_future_timestamps() -> None:
    now = datetime(2025, 4, 1, 6, 0, tzinfo=UTC)
    assert first_error(json.dumps(SENT).encode(), ValidationContext(now=now)).code == "MSG1007"
    f = first_error(json.dumps(DELIVERED).encode(), ValidationContext(side=Side.RCP, now=now))
    assert f.code == "RCP1008"
    later = datetime(2025, 4, 1, 7, 0, tzinfo=UTC)
    assert validate_batch(json.dumps(SENT).encode(), ValidationContext(now=later)).ok


def test_d0_presence_by_side() -> None:
    report = validate_batch(json.dumps(DELIVERED).encode(), ValidationContext(side=Side.MSG))
    assert report.ok
    assert report.findings[0].severity is Severity.WARNING
    assert first_error(json.dumps(SENT).encode(), RCP).code == "RCP1043"
    rcp = ValidationContext(side=Side.RCP, recipient_dip_id="9999999999")
    report = validate_batch(json.dumps(DELIVERED).encode(), rcp)
    assert report.ok
    assert report.findings[0].code == "RCP1041"
    replay = ValidationContext(side=Side.RCP, expect_replay=True)
    assert first_error(json.dumps(DELIVERED).encode(), replay).code == "RCP1047"


# -- staging and level 4 -------------------------------------------------------------------


def test_stops_at_first_level_with_errors_and_respects_max_level() -> None:
    raw = mutate(_set("M0", "MPANCore", "2100000123458"))
    report = validate_batch(raw, ValidationContext(channel_interface_id="IF-013"))
    assert [f.level for f in report.findings] == [Level.SCHEMA]  # L3 channel error not reached
    assert report.results[0].level_reached is Level.SCHEMA
    report = validate_batch(
        json.dumps(SENT).encode(),
        ValidationContext(channel_interface_id="IF-013", max_level=Level.SCHEMA),
    )
    assert report.ok
    assert report.results[0].level_reached is Level.SCHEMA


def test_batch_items_are_independent() -> None:
    bad = copy.deepcopy(SENT[0])
    bad["payload"]["CommonBlock"]["S0"]["interfaceID"] = "IF-999"
    report = validate_batch(json.dumps([SENT[0], bad, 7]).encode(), MSG)
    assert [r.ok for r in report.results] == [True, False, False]
    assert not report.syntax_ok


def _period(p: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return p["CustomBlock"]["B900"]["settlementDayConsumptionPeriods"][0]["consumptionPeriods"][i]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda p: p["CustomBlock"]["B900"]["MQID"].update(measurementQuantityID="RI"), "ECS1002"),
        (
            lambda p: p["CustomBlock"]["B900"]["settlementDayConsumptionPeriods"][0][
                "settlementDay"
            ].update(settlementDayDate="2025-03-31T01:00:00+00:00"),
            "ECS1014",
        ),
        (lambda p: _period(p).update(sp="2025-03-31T00:45:00+00:00"), "ECS1005"),
        (lambda p: _period(p).update(sp="2025-04-01T00:30:00+00:00"), "ECS1005"),
        (lambda p: _period(p, 1).update(sp="2025-03-31T00:30:00+00:00"), "ECS1006"),
        (lambda p: _period(p).update(v="-0.412"), "ECS1010"),
        (lambda p: _period(p).update(q="ZE", e="1"), "ECS1011"),
        (lambda p: _period(p).update(q="E1"), "ECS1015"),
    ],
)
def test_if021_business_rules(change: Callable[[dict[str, Any]], None], code: str) -> None:
    f = first_error(mutate(change), MSG)
    assert (f.code, f.level) == (code, Level.BUSINESS)


def test_if021_issuer_mismatch_is_a_warning() -> None:
    report = validate_batch(
        mutate(lambda p: p["CustomBlock"]["B044"].update(issuingDataServiceDIPID="1409099999")), MSG
    )
    assert report.ok
    assert report.findings[0].severity is Severity.WARNING


def test_custom_rule_registry_and_broken_rules() -> None:
    rules = RuleRegistry()

    @rules.register("IF-021")
    def no_sit(m: Message, ctx: ValidationContext) -> list[Finding]:
        return [business_finding("REG1022", m, ".CommonBlock.S1.environmentTag", "no SIT please")]

    def broken(m: Message, ctx: ValidationContext) -> list[Finding]:
        raise RuntimeError("boom")

    rules.register("IF-021", broken)
    report = validate_batch(json.dumps(SENT).encode(), ValidationContext(rules=rules))
    assert [f.code for f in report.findings] == ["REG1022", "MSG1000"]
    assert "boom" in report.findings[1].message
    assert len(rules.copy().rules_for("IF-021")) == 2
    assert rules.rules_for("IF-013") == []


def test_validate_message_in_memory() -> None:
    assert validate_message(copy.deepcopy(SENT[0]), MSG).ok
    r = validate_message({"payload": 1}, MSG)
    assert not r.ok
    assert r.level_reached is Level.SYNTAX
