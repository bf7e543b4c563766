"""Catalogue data per spec version: interfaces, variants, schema versions, compiled schemas."""

from __future__ import annotations

import pytest

from dip.catalogue import SPEC_VERSIONS, load_catalogue, spec_versions_accepting


@pytest.mark.parametrize("sv", SPEC_VERSIONS)
def test_every_interface_of_the_enum_is_present(sv: str) -> None:
    cat = load_catalogue(sv)
    assert cat.spec_version == sv
    assert len(cat.interfaces) == 58  # 46 IF + 12 REP (PROTOCOL.md §8)
    assert sum(1 for i in cat.interfaces if i.startswith("REP-")) == 12
    assert "IF-030" not in cat.interfaces
    assert "IF-042" not in cat.interfaces


@pytest.mark.parametrize("sv", SPEC_VERSIONS)
def test_schema_versions(sv: str) -> None:
    cat = load_catalogue(sv)
    for iid, iface in cat.interfaces.items():
        expected = "008" if iid.startswith("REP-") else "001" if iid == "IF-051" else "011"
        assert iface.schema_versions == (expected,)
    assert spec_versions_accepting("IF-021", "011") == SPEC_VERSIONS
    assert spec_versions_accepting("IF-021", "010") == ()


def test_if021_entry() -> None:
    iface = load_catalogue().interfaces["IF-021"]
    assert iface.name == "UTC Settlement Period Consumption Data"
    assert iface.event_codes == ("[ActivePower]", "[ReactivePower]")
    assert iface.sender_roles == ("SDS", "ADS", "UMSDS")
    assert set(iface.recipient_roles) == {"LSS", "MDS", "LDSO", "SUP"}
    v = iface.variant_for("[ActivePower]")
    assert v is not None
    assert v.common_required == ("S0", "S1", "M0")
    assert v.common_optional == ("A0", "D0")
    assert v.custom_required == ("B044", "B067", "B900")
    assert iface.publication_id() == "PUB-021"
    assert load_catalogue().interfaces["REP-002A"].publication_id() == "REP-002A"


def test_blocks_required_per_variant() -> None:
    cat = load_catalogue()
    assert cat.variant("IF-019", "[RelatedAdd]").common_required == ("S0", "S1", "M1")  # type: ignore[union-attr]
    assert "R0" in cat.variant("IF-006", "[MeterInstall]").common_required  # type: ignore[union-attr]
    assert cat.variant("IF-015", "[ConsumptionReplay]").custom_block is False  # type: ignore[union-attr]
    assert cat.variant("IF-022", "[LSSPeriodData]").common_required == ("S0", "S1")  # type: ignore[union-attr]
    assert cat.variant("IF-021", "[Nope]") is None
    assert cat.variant("IF-999", "[X]") is None


def test_editions_differ_only_in_the_sur_pattern() -> None:
    a, b = load_catalogue("2.1.0"), load_catalogue("2.2.1")
    assert a.interfaces == b.interfaces
    pa = a.schema("S1")["definitions"]["S1"]["properties"]["senderUniqueReference"]["pattern"]
    pb = b.schema("S1")["definitions"]["S1"]["properties"]["senderUniqueReference"]["pattern"]
    assert r"\d{3,4}" in pa
    assert r"\d{3}[A-B]?" in pb


def test_validators_are_compiled_once() -> None:
    cat = load_catalogue()
    assert cat.validator("IF-021-Payload") is cat.validator("IF-021-Payload")
    assert load_catalogue() is load_catalogue("2.1.0")


def test_unknown_edition() -> None:
    with pytest.raises(KeyError, match="unknown DIP spec version"):
        load_catalogue("9.9.9")


BAD_PERIOD_VALUES = [
    ("sp", "2025-03-31T00:30:00"),
    ("sp", None),
    ("v", "0.41"),
    ("v", 0.412),
    ("v", "0.412\n"),
    ("q", "Q"),
    ("q", ["A"]),
    ("e", "11"),
    ("e", ""),
    ("arc", "Z"),
    ("extra", 1),
]


@pytest.mark.parametrize(("key", "value"), BAD_PERIOD_VALUES)
def test_fast_path_reports_exactly_what_the_full_schema_reports(key: str, value: object) -> None:
    import copy
    import random

    import fastjsonschema

    from dip.samples import make_message

    cat = load_catalogue()
    payload = make_message("IF-021", rng=random.Random(5), periods=4)["payload"]
    fast = cat.validator("IF-021-Payload")
    full = fastjsonschema.compile(cat.schema("IF-021-Payload"))
    fast(payload)
    bad = copy.deepcopy(payload)
    bad["CustomBlock"]["B900"]["settlementDayConsumptionPeriods"][0]["consumptionPeriods"][2][
        key
    ] = value
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as a:
        fast(bad)
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as b:
        full(bad)
    assert (a.value.name, a.value.rule, a.value.message) == (
        b.value.name,
        b.value.rule,
        b.value.message,
    )
