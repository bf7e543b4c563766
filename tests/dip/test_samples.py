"""Sample messages: every interface and event code, both spec editions, pass levels 1-4."""

from __future__ import annotations

import random

import pytest

from dip.catalogue import SPEC_VERSIONS, load_catalogue
from dip.codes import Side
from dip.envelope import Message, serialise_batch
from dip.identifiers import GSP_DISTRIBUTOR, is_valid_mpan_core
from dip.samples import make_batch, make_message, variants
from dip.validation import ValidationContext, validate_batch

PAIRS = [(sv, iid, ec) for sv in SPEC_VERSIONS for iid, ec in variants(sv)]


def test_every_event_code_is_covered() -> None:
    for sv in SPEC_VERSIONS:
        cat = load_catalogue(sv)
        assert sum(len(i.event_codes) for i in cat.interfaces.values()) == len(list(variants(sv)))


@pytest.mark.parametrize(("spec_version", "interface_id", "event_code"), PAIRS)
def test_sample_validates(spec_version: str, interface_id: str, event_code: str) -> None:
    rng = random.Random(f"{spec_version}{interface_id}{event_code}")
    for side, delivered in ((Side.MSG, False), (Side.RCP, True)):
        item = make_message(
            interface_id,
            event_code,
            rng=rng,
            spec_version=spec_version,
            environment="UIT",
            delivered=delivered,
        )
        ctx = ValidationContext(
            side=side,
            spec_version=spec_version,
            environment="UIT",
            channel_interface_id=interface_id,
            dcp_dip_id="3009012345" if side is Side.MSG else None,
        )
        report = validate_batch(serialise_batch([item]), ctx)
        assert [f for f in report.findings if f.is_error] == []


def test_samples_are_deterministic_and_realistic() -> None:
    a = make_batch("IF-021", 3, seed=7)
    assert a == make_batch("IF-021", 3, seed=7)
    assert a != make_batch("IF-021", 3, seed=8)
    for item in a:
        m = Message(item)
        assert is_valid_mpan_core(m.mpan_core)
        m0 = m.common.M0
        assert m0 is not None
        assert m0.MPANCore[:2] == GSP_DISTRIBUTOR[m0.GSPGroupID]
        assert m.sender_role in ("SDS", "ADS", "UMSDS")
        assert m.dcp_id == "3009012345"
        assert m.custom is not None
        assert m.custom["B044"]["issuingDataServiceDIPID"] == m.sender_dip_id
        assert m.sender_unique_reference is not None
        assert m.sender_unique_reference.startswith(f"S-IF-021-{m.sender_dip_id}-{m.sender_role}-")
    reactive = Message(make_message("IF-021", "[ReactivePower]"))
    assert reactive.custom is not None
    assert reactive.custom["B900"]["MQID"]["measurementQuantityID"] == "RI"


def test_make_message_options_and_errors() -> None:
    m = Message(
        make_message(
            "IF-021",
            sender_dip_id="1409012345",
            mpan_core="2100000123459",
            dcp_dip_id=None,
            environment="SIT",
            delivered=True,
        )
    )
    assert (m.sender_dip_id, m.mpan_core, m.dcp_id, m.environment) == (
        "1409012345",
        "2100000123459",
        None,
        "SIT",
    )
    assert m.transaction_id is not None
    assert m.transaction_id.startswith("T-IF-021-1409012345-")
    with pytest.raises(KeyError):
        make_message("IF-030")
    with pytest.raises(KeyError):
        make_message("IF-021", "[Nope]")
