"""Level 2: the message against its interface/event variant schema, then identifier checks.

Order (as the DIP reports them): interface ID known, event code belongs to the interface,
``schemaVersion`` accepted by the selected spec edition, the compiled variant schema (first
failure only - fastjsonschema stops there), then identifier checks the schema cannot express
(MPAN check digit, real DT-003 date-times in S1/S2/D0).
"""

from __future__ import annotations

from typing import Any

from fastjsonschema import JsonSchemaValueException

from dip import codes
from dip.catalogue import Catalogue
from dip.codes import Side
from dip.envelope import Message
from dip.errors import Finding, Level, Severity
from dip.identifiers import check_mpan_core, check_timestamp


def _finding(code: str, path: str, message: str, index: int) -> Finding:
    return Finding(code, Severity.ERROR, path, message, Level.SCHEMA, index)


def check_schema(m: Message, cat: Catalogue, side: Side) -> list[Finding]:
    i = m.index
    base = f"$[{i}].payload"
    common = m.common_dict
    s0 = common.get("S0")
    if not isinstance(s0, dict):
        msg = "CommonBlock.S0 is missing" if s0 is None else "CommonBlock.S0 must be an object"
        pair = codes.MISSING if s0 is None else codes.SCHEMA
        if not isinstance(m.payload.get("CommonBlock"), dict):
            return [
                _finding(
                    codes.pick(pair, side),
                    f"{base}.CommonBlock",
                    "CommonBlock is missing or not an object",
                    i,
                )
            ]
        return [_finding(codes.pick(pair, side), f"{base}.CommonBlock.S0", msg, i)]
    s0_path = f"{base}.CommonBlock.S0"
    iid = s0.get("interfaceID")
    iface = cat.get(iid) if isinstance(iid, str) else None
    if iface is None:
        what = "is missing" if iid is None else f"{iid!r} is not a {cat.spec_version} interface"
        return [
            _finding(
                codes.pick(codes.INTERFACE, side),
                f"{s0_path}.interfaceID",
                f"interfaceID {what}",
                i,
            )
        ]
    ec = s0.get("eventCode")
    variant = iface.variant_for(ec) if isinstance(ec, str) else None
    if variant is None:
        what = "is missing" if ec is None else f"{ec!r} is not an event code of {iid}"
        return [
            _finding(codes.pick(codes.EVENT, side), f"{s0_path}.eventCode", f"eventCode {what}", i)
        ]
    sv = s0.get("schemaVersion")
    if sv not in iface.schema_versions:
        expected = ", ".join(iface.schema_versions)
        msg = f"schemaVersion {sv!r} is not accepted for {iid} in spec {cat.spec_version}"
        msg += f" (expected {expected})"
        return [
            _finding(codes.pick(codes.SCHEMA_VERSION, side), f"{s0_path}.schemaVersion", msg, i)
        ]
    try:
        cat.validator(variant.schema)(m.payload)
    except JsonSchemaValueException as exc:
        return [schema_finding(exc, base, side, i)]
    return identifier_findings(m, side, base)


def schema_finding(exc: JsonSchemaValueException, base: str, side: Side, index: int) -> Finding:
    """Map a fastjsonschema failure to a finding with the most specific DIP code."""
    name = exc.name or "data"
    rel = name[4:] if name.startswith("data") else "." + name
    parts: list[str] = [str(p) for p in (exc.path or [])][1:]
    text = exc.message
    if text.startswith(name):
        text = "payload" + rel + text[len(name) :]
    rule = exc.rule
    pair = codes.SCHEMA
    if rule == "required":
        value: Any = exc.value
        required = exc.rule_definition if isinstance(exc.rule_definition, list) else []
        missing = [k for k in required if not isinstance(value, dict) or k not in value]
        if missing:
            rel = f"{rel}.{missing[0]}"
            parts.append(str(missing[0]))
            text = f"payload{rel} is missing (mandatory; send null where the field is nullable)"
        pair = codes.MISSING
    elif rule == "enum":
        pair = codes.RESTRICTED
    code = codes.pick(pair, side)
    if len(parts) >= 3 and parts[0] == "CommonBlock":
        code = codes.field_code(parts[1], parts[2], side) or code
    return _finding(code, base + rel, text, index)


def identifier_findings(m: Message, side: Side, base: str) -> list[Finding]:
    out: list[Finding] = []
    common = m.common_dict
    cb = f"{base}.CommonBlock"
    for block, key in (("M0", "MPANCore"), ("M1", "principalMPAN")):
        b = common.get(block)
        if isinstance(b, dict) and key in b:
            f = check_mpan_core(b[key], path=f"{cb}.{block}.{key}", side=side)
            if f is not None:
                out.append(_with_index(f, m.index))
    for block in ("S1", "S2"):
        b = common.get(block)
        if isinstance(b, dict):
            f = check_timestamp(
                b.get("senderTimestamp"), path=f"{cb}.{block}.senderTimestamp", side=side
            )
            if f is not None:
                out.append(_with_index(f, m.index))
    d0 = common.get("D0")
    if isinstance(d0, dict):
        f = check_timestamp(
            d0.get("transactionTimestamp"),
            path=f"{cb}.D0.transactionTimestamp",
            side=side,
            pair=("MSG1001", "RCP1044"),
        )
        if f is not None:
            out.append(_with_index(f, m.index))
    return out


def _with_index(f: Finding, index: int) -> Finding:
    return Finding(f.code, f.severity, f.path, f.message, f.level, index)
