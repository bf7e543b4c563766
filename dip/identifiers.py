"""Identifier validators: MPAN core, DIP ID, MPID, roles, GSP groups, environments, SUR ...

Convention (one for every validator here): ``check_<thing>(value, *, path="$", side=Side.MSG)``
returns ``None`` when ``value`` is valid, otherwise one :class:`~dip.errors.Finding` (level
SCHEMA, severity ERROR) whose ``message`` says precisely what is wrong, and whose ``code`` is the
DIP response code for that check on that ``side`` (see :mod:`dip.codes`). The validators never
raise, whatever ``value`` is. ``is_valid_mpan_core`` and ``mpan_check_digit`` are the plain
helpers behind the MPAN check.

Sources: PROTOCOL.md §2 (DT-002, DT-006, DT-027, DT-013, DI-037, DT-995, DT-011, DT-014).
"""

from __future__ import annotations

import re
from typing import Final

from dip import codes
from dip.codes import Side
from dip.errors import Finding, Level, Severity
from dip.timeutil import parse_timestamp

MPAN_WEIGHTS: Final = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
GSP_GROUPS: Final = (
    "_A",
    "_B",
    "_C",
    "_D",
    "_E",
    "_F",
    "_G",
    "_H",
    "_J",
    "_K",
    "_L",
    "_M",
    "_N",
    "_P",
)
# Industry convention (PROTOCOL.md §2.2, inferred): GSP group -> distributor ID
# (the first 2 digits of MPANs originating in that network).
GSP_DISTRIBUTOR: Final = {
    "_A": "10", "_B": "11", "_C": "12", "_D": "13", "_E": "14", "_F": "15", "_G": "16",
    "_H": "20", "_J": "19", "_K": "21", "_L": "22", "_M": "23", "_N": "18", "_P": "17",
}  # fmt: skip
ENVIRONMENT_TAGS: Final = ("PRD", "SITB", "SIT", "UIT", "DEV")
# §2.5 table (15 codes) + "DIP" (IF-016 sender / IF-015 recipient in the catalogue) and
# "BSCCo" (REP-007 recipient). The spec has no enum (DT-009 is only "3-5 characters").
ROLE_CODES: Final[dict[str, str]] = {
    "SUP": "Supplier",
    "REGS": "Registration Service",
    "MSS": "Metering Service Smart",
    "MSA": "Metering Service Advanced",
    "UMSO": "Unmetered Supplies Operator",
    "SDS": "Smart Data Service",
    "ADS": "Advanced Data Service",
    "UMSDS": "Unmetered Supplies Data Service",
    "LDSO": "Licensed Distribution System Operator",
    "MDS": "Market-wide Data Service",
    "LSS": "Load Shaping Service",
    "EES": "Electricity Enquiry Service",
    "MDR": "Meter Data Retriever",
    "DCC": "Data Communications Company",
    "ECS": "Central settlement (ECS)",
    "DIP": "Data Integration Platform",
    "BSCCo": "BSC Company (Elexon)",
}
SUR_PATTERNS: Final = {
    "2.1.0": re.compile(
        r"^S-((IF|REP)-)?[0-9]{3,4}-[0-9a-fA-F]{10}-[A-Z]{3,5}-[0-9]{8}-[a-zA-Z0-9]+\Z"
    ),
    "2.2.1": re.compile(
        r"^S-((IF|REP)-)?[0-9]{3}[A-B]?-[0-9a-fA-F]{10}-[A-Z]{3,5}-[0-9]{8}-[a-zA-Z0-9]+\Z"
    ),
}
_DIP_ID: Final = re.compile(r"^[0-9A-Za-z]{10}\Z")
_MPID: Final = re.compile(r"^[A-Z]{4}\Z")
_DIGITS13: Final = re.compile(r"^[0-9]{13}\Z")


def _finding(pair: tuple[str, str], side: Side, path: str, message: str) -> Finding:
    return Finding(codes.pick(pair, side), Severity.ERROR, path, message, Level.SCHEMA)


def _not_str(value: object, what: str) -> str | None:
    if isinstance(value, str):
        return None
    return f"{what} must be a string, got {type(value).__name__}"


def mpan_check_digit(first12: str) -> int:
    """Check digit for the first 12 digits of an MPAN core: Σ dᵢ·wᵢ mod 11 mod 10."""
    if len(first12) != 12 or not first12.isascii() or not first12.isdigit():
        raise ValueError("need exactly 12 ASCII digits")
    return sum(int(d) * w for d, w in zip(first12, MPAN_WEIGHTS, strict=True)) % 11 % 10


def with_check_digit(first12: str) -> str:
    """The 13-digit MPAN core formed by appending the check digit."""
    return first12 + str(mpan_check_digit(first12))


def is_valid_mpan_core(value: object) -> bool:
    return (
        isinstance(value, str)
        and _DIGITS13.match(value) is not None
        and mpan_check_digit(value[:12]) == int(value[12])
    )


def check_mpan_core(value: object, *, path: str = "$", side: Side = Side.MSG) -> Finding | None:
    err = _not_str(value, "MPAN core")
    if err is None:
        assert isinstance(value, str)
        if not _DIGITS13.match(value):
            err = f"MPAN core must be exactly 13 ASCII digits, got {value!r}"
        else:
            expected = mpan_check_digit(value[:12])
            if expected != int(value[12]):
                err = (
                    f"MPAN core {value} fails the check digit: expected {expected}, got {value[12]}"
                )
    return _finding(codes.MPAN, side, path, err) if err else None


def check_dip_id(
    value: object, *, path: str = "$", side: Side = Side.MSG, pair: tuple[str, str] = codes.SCHEMA
) -> Finding | None:
    """DT-006: exactly 10 characters (inferred: alphanumeric, as every known DIP ID is)."""
    err = _not_str(value, "DIP ID")
    if err is None and not _DIP_ID.match(str(value)):
        err = f"DIP ID must be exactly 10 letters/digits, got {value!r}"
    return _finding(pair, side, path, err) if err else None


def check_mpid(value: object, *, path: str = "$", side: Side = Side.MSG) -> Finding | None:
    err = _not_str(value, "MPID")
    if err is None and not _MPID.match(str(value)):
        err = f"MPID must be exactly 4 upper-case letters (DT-027), got {value!r}"
    return _finding(codes.RESTRICTED, side, path, err) if err else None


def check_role(value: object, *, path: str = "$", side: Side = Side.MSG) -> Finding | None:
    err = _not_str(value, "role code")
    if err is None and value not in ROLE_CODES:
        err = f"unknown DIP role code {value!r}; known: {', '.join(ROLE_CODES)}"
    return _finding(codes.SENDER_ROLE, side, path, err) if err else None


def check_gsp_group(value: object, *, path: str = "$", side: Side = Side.MSG) -> Finding | None:
    err = _not_str(value, "GSP group")
    if err is None and value not in GSP_GROUPS:
        err = f"GSP group must be one of {' '.join(GSP_GROUPS)} (DI-037), got {value!r}"
    return _finding(codes.RESTRICTED, side, path, err) if err else None


def check_environment(
    value: object, *, path: str = "$", side: Side = Side.MSG, expected: str | None = None
) -> Finding | None:
    err = _not_str(value, "environment tag")
    if err is None and value not in ENVIRONMENT_TAGS:
        err = f"environment tag must be one of {', '.join(ENVIRONMENT_TAGS)}, got {value!r}"
    elif err is None and expected is not None and value != expected:
        err = f"environment tag {value!r} does not match this environment ({expected})"
    return _finding(codes.ENVIRONMENT, side, path, err) if err else None


def check_timestamp(
    value: object,
    *,
    path: str = "$",
    side: Side = Side.MSG,
    pair: tuple[str, str] = codes.TIMESTAMP,
) -> Finding | None:
    err = _not_str(value, "timestamp")
    if err is None:
        try:
            parse_timestamp(str(value))
        except ValueError as exc:
            err = f"timestamp {value!r} is invalid: {exc}"
    return _finding(pair, side, path, err) if err else None


def check_sur(
    value: object, *, path: str = "$", side: Side = Side.MSG, spec_version: str = "2.1.0"
) -> Finding | None:
    """DT-995 Sender Unique Reference, with the regex of ``spec_version`` (§2.8)."""
    err = _not_str(value, "sender unique reference")
    if err is None:
        text = str(value)
        if not 1 <= len(text) <= 200:
            err = f"sender unique reference must be 1-200 characters, got {len(text)}"
        elif not SUR_PATTERNS[spec_version].match(text):
            err = (
                f"sender unique reference {text!r} does not match the {spec_version} pattern "
                "S-<IF|REP>-nnn-<10 hex DIP ID>-<ROLE>-<YYYYMMDD>-<alphanumeric>"
            )
    return _finding(("MSG1001", "RCP1006"), side, path, err) if err else None


def check_correlation_id(
    value: object, *, path: str = "$", side: Side = Side.MSG, nullable: bool = True
) -> Finding | None:
    """DT-011(N): 1-60 characters, or null where nullable."""
    if value is None and nullable:
        return None
    err = _not_str(value, "correlation ID")
    if err is None and not 1 <= len(str(value)) <= 60:
        err = f"correlation ID must be 1-60 characters, got {len(str(value))}"
    return _finding(codes.CORRELATION, side, path, err) if err else None


def check_transaction_id(
    value: object, *, path: str = "$", side: Side = Side.MSG
) -> Finding | None:
    """DT-014: DIP transaction ID, 1-65 characters."""
    err = _not_str(value, "transaction ID")
    if err is None and not 1 <= len(str(value)) <= 65:
        err = f"transaction ID must be 1-65 characters, got {len(str(value))}"
    return _finding(("MSG1001", "RCP1043"), side, path, err) if err else None
