"""Valid, realistic sample messages for every interface and event code in the catalogue.

Deterministic: pass ``rng=random.Random(seed)`` (or ``seed=`` to :func:`make_batch`). Used by
tests, the sandbox and the benchmarks. The CommonBlock is built by hand (consistent roles, DIP
IDs, SUR, GSP group and an MPAN core whose first two digits are that GSP group's distributor
and whose check digit is right); the CustomBlock is generated from the variant's JSON Schema,
with hand-written realism where rules look at the data (IF-021 half-hour periods, MQID matching
the event, B044 = the sender, P03 = base64 zlib JSON report).

DIP ID prefixes per role follow the examples in PROTOCOL.md §2.3 (inferred, not a rule).
"""

from __future__ import annotations

import base64
import random
import string
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from dip.catalogue import DEFAULT_SPEC_VERSION, Catalogue, Interface, load_catalogue
from dip.envelope import ordered_item, stamp_d0
from dip.identifiers import GSP_DISTRIBUTOR, GSP_GROUPS, with_check_digit
from dip.timeutil import format_timestamp

ROLE_PREFIX: Final = {
    "SUP": "23", "REGS": "22", "SDS": "14", "ADS": "11", "UMSDS": "13", "MSS": "12", "MSA": "12",
    "UMSO": "15", "LDSO": "25", "MDS": "18", "LSS": "19", "EES": "20", "MDR": "16", "DCC": "17",
    "ECS": "18", "DIP": "00",
}  # fmt: skip
# Sender when the catalogue names none (REP-xxx: central settlement; IF-051/IF-047: inferred).
DEFAULT_SENDER: Final = {"IF-047": "ECS", "IF-051": "REGS"}
DEFAULT_DCP_DIP_ID: Final = "3009012345"
_MQID: Final = {"[ActivePower]": "AI", "[ReactivePower]": "RI"}
_ALNUM: Final = string.ascii_letters + string.digits
_EPOCH: Final = datetime(2025, 1, 1, tzinfo=UTC)


def make_dip_id(rng: random.Random, role: str = "SUP") -> str:
    return ROLE_PREFIX.get(role, "30") + "".join(rng.choices(string.digits, k=8))


def make_mpan_core(rng: random.Random, gsp_group: str | None = None) -> str:
    gsp = gsp_group or rng.choice(GSP_GROUPS)
    return with_check_digit(GSP_DISTRIBUTOR[gsp] + "".join(rng.choices(string.digits, k=10)))


def make_sur(interface_id: str, dip_id: str, role: str, day: datetime, rng: random.Random) -> str:
    """A SUR valid under both the 2.1.0 and 2.2.1 regex (3-digit number, alnum suffix)."""
    number = interface_id.split("-")[1][:3]
    prefix = interface_id.split("-")[0]
    suffix = "".join(rng.choices(_ALNUM, k=16))
    return f"S-{prefix}-{number}-{dip_id}-{role.upper()}-{day:%Y%m%d}-{suffix}"


def variants(spec_version: str = DEFAULT_SPEC_VERSION) -> Iterator[tuple[str, str]]:
    """Every (interface_id, event_code) pair of a spec edition."""
    for iid, iface in load_catalogue(spec_version).interfaces.items():
        for code in iface.event_codes:
            yield iid, code


def sender_role_for(iface: Interface, rng: random.Random) -> str:
    if iface.sender_roles:
        return rng.choice(iface.sender_roles)
    return DEFAULT_SENDER.get(iface.interface_id, "ECS")


def make_message(
    interface_id: str,
    event_code: str | None = None,
    *,
    environment: str = "UIT",
    sender_dip_id: str | None = None,
    sender_role: str | None = None,
    dcp_dip_id: str | None = DEFAULT_DCP_DIP_ID,
    mpan_core: str | None = None,
    rng: random.Random | None = None,
    spec_version: str = DEFAULT_SPEC_VERSION,
    when: datetime | None = None,
    periods: int = 12,
    delivered: bool = False,
) -> dict[str, Any]:
    """One array element ``{"payload": ...}`` for ``interface_id``/``event_code`` (first if None).

    ``delivered=True`` returns the "as delivered" form with D0 stamped (§1.13).
    """
    rng = rng or random.Random(0)
    cat = load_catalogue(spec_version)
    iface = cat.get(interface_id)
    if iface is None:
        raise KeyError(f"{interface_id} is not a {spec_version} interface")
    event = event_code or iface.event_codes[0]
    variant = iface.variant_for(event)
    if variant is None:
        raise KeyError(f"{event} is not an event code of {interface_id}")
    role = sender_role or sender_role_for(iface, rng)
    sender = sender_dip_id or make_dip_id(rng, role)
    sent = when or (_EPOCH + timedelta(days=rng.randrange(365), seconds=rng.randrange(86400)))
    gen = _Gen(cat, rng, sender, sent, event, periods)
    common: dict[str, Any] = {
        "S0": {
            "interfaceID": interface_id,
            "schemaVersion": iface.schema_versions[0],
            "eventCode": event,
        },
        "S1": gen.s1(interface_id, environment, sender, role, dcp_dip_id),
        "A0": {"primaryRecipients": [], "secondaryRecipients": [], "always": []},
    }
    blocks = variant.common_required
    if "S2" in blocks:  # IF-016: the original submitter's S1 (inferred, §1.5)
        ds = make_dip_id(rng, "ADS")
        common["S2"] = gen.s1("IF-021", environment, ds, "ADS", dcp_dip_id)
    if "M0" in blocks or "M1" in blocks:
        gsp = rng.choice(GSP_GROUPS)
        mpan = mpan_core or make_mpan_core(rng, gsp)
        key, block = ("MPANCore", "M0") if "M0" in blocks else ("principalMPAN", "M1")
        common[block] = {key: mpan, "distributorDIPID": make_dip_id(rng, "LDSO"), "GSPGroupID": gsp}
    for block in ("R0", "R1"):
        if block in blocks:
            common[block] = {"responseCode": "A", "responseMessages": []}
    payload: dict[str, Any] = {"CommonBlock": common}
    if variant.custom_block:
        props = variant.custom_required or tuple(
            b for b in variant.custom_optional if b != "schema"
        )
        schema = cat.schema(variant.schema)["properties"]["CustomBlock"]["properties"]
        payload["CustomBlock"] = {b: gen.value(schema[b], b) for b in props}
    item = ordered_item({"payload": payload})
    if delivered:
        item = stamp_d0(
            item,
            transaction_id=f"T-{interface_id}-{sender}-{role}-{sent:%Y%m%d}-{rng.getrandbits(64):016X}",
            transaction_timestamp=format_timestamp(sent + timedelta(seconds=2)),
            publication_id=iface.publication_id(),
            secondary_recipients=[make_dip_id(rng, r) for r in iface.recipient_roles[:1]],
        )
    return item


def make_batch(
    interface_id: str, n: int = 1, *, seed: int = 0, event_code: str | None = None, **kwargs: Any
) -> list[dict[str, Any]]:
    """``n`` messages for one channel, deterministic for ``seed``."""
    rng = random.Random(seed)
    return [make_message(interface_id, event_code, rng=rng, **kwargs) for _ in range(n)]


class _Gen:
    """Schema-driven value generator with realism overrides for a few blocks."""

    def __init__(
        self,
        cat: Catalogue,
        rng: random.Random,
        sender: str,
        sent: datetime,
        event: str,
        periods: int,
    ) -> None:
        self.defs: dict[str, Any] = cat.schema("S1")["definitions"]
        self.rng, self.sender, self.sent, self.event, self.periods = (
            rng,
            sender,
            sent,
            event,
            periods,
        )
        self.day = datetime(sent.year, sent.month, sent.day, tzinfo=UTC) - timedelta(days=1)

    def s1(self, iid: str, env: str, dip_id: str, role: str, dcp: str | None) -> dict[str, Any]:
        return {
            "environmentTag": env,
            "subText": None,
            "senderUniqueReference": make_sur(iid, dip_id, role, self.sent, self.rng),
            "senderTimestamp": format_timestamp(self.sent),
            "senderDIPID": dip_id,
            "senderRoleID": role,
            "senderCorrelationID": None,
            "DIPConnectionProviderID": dcp,
        }

    def value(self, node: dict[str, Any], name: str) -> Any:
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            special = getattr(self, f"block_{ref}", None)
            return special() if special else self.value(self.defs[ref], name)
        for key in ("anyOf", "oneOf"):
            if key in node:
                options = [o for o in node[key] if o.get("type") != "null"]
                return self.value(options[0], name)
        if "enum" in node:
            return self.rng.choice([e for e in node["enum"] if e is not None])
        t = node.get("type", "object")
        t = next(x for x in t if x != "null") if isinstance(t, list) else t
        if t == "object":
            props: dict[str, Any] = node.get("properties", {})
            keys = node.get("required", list(props))
            return {k: self.value(props[k], k) for k in props if k in keys}
        if t == "array":
            return [self.value(node["items"], name) for _ in range(max(1, node.get("minItems", 1)))]
        if t == "integer" or t == "number":
            lo, hi = node.get("minimum", 1), node.get("maximum", 9)
            return self.rng.randint(int(lo), int(hi))
        if t == "boolean":
            return self.rng.random() < 0.5
        return self.string(node, name)

    def string(self, node: dict[str, Any], name: str) -> str:
        lo, hi = node.get("minLength", 1), node.get("maxLength", 20)
        pattern = node.get("pattern")
        if pattern:
            return self.pattern(pattern, name)
        if name.endswith("DIPID") and lo == hi == 10:
            return self.sender if name.startswith("issuing") else make_dip_id(self.rng, "")
        if lo == hi == 25:
            return format_timestamp(self.day)
        if lo == hi == 10 and "Date" in name:
            return f"{self.day:%Y-%m-%d}"
        size = max(lo, min(hi, 8))
        return "".join(self.rng.choices(_ALNUM, k=size))

    def pattern(self, pattern: str, name: str) -> str:
        r = self.rng
        if pattern.startswith("^S-"):
            return make_sur("IF-000", self.sender, "SUP", self.sent, r)
        if "13" in pattern and "\\d{13}" in pattern:
            return make_mpan_core(r)
        if "A-Z" in pattern:
            return "".join(r.choices(string.ascii_uppercase, k=4))
        if "\\." in pattern:
            decimals = int(pattern.rsplit("{", 1)[1].split("}")[0])
            return f"{r.randint(0, 999)}.{r.randrange(10**decimals):0{decimals}d}"
        if pattern == "^\\d{4,4}$":
            return f"{r.randint(0, 9999):04d}"
        return str(r.randint(1, 99))

    # -- realism overrides (method name = block definition) --------------------------------

    def block_B045(self) -> dict[str, Any]:
        return {"measurementQuantityID": _MQID.get(self.event, "AI")}

    def block_B901(self) -> dict[str, Any]:
        return {
            "settlementDay": {
                "settlementDayDate": format_timestamp(self.day),
                "periodDuration": 30,
            },
            "consumptionPeriods": [self.period(k) for k in range(1, self.periods + 1)],
        }

    def period(self, k: int) -> dict[str, Any]:
        sp = format_timestamp(self.day + timedelta(minutes=30 * k))
        v = f"{self.rng.randint(0, 2)}.{self.rng.randrange(1000):03d}"
        return {"sp": sp, "v": v, "q": "A", "e": None, "arc": None}

    def block_B941(self) -> dict[str, Any]:
        day = {"settlementDayDate": format_timestamp(self.day), "periodDuration": 30}
        periods = [
            {k: v for k, v in self.period(k).items() if k in ("sp", "v", "q")} for k in (1, 2)
        ]
        return {"settlementDay": day, "MDRConsumptionPeriods": periods}

    def block_P03(self) -> dict[str, Any]:
        report = orjson.dumps({"reportDate": f"{self.day:%Y-%m-%d}", "rows": []})
        return {"compressedReport": base64.b64encode(zlib.compress(report)).decode("ascii")}
