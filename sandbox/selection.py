"""Parsing of ``MessageRequest`` and ``StatusMessageRequest`` bodies (PROTOCOL.md §6).

``MessageRequest``: required keys ``datetimeFrom``, ``datetimeTo``, ``eventCode``, ``MPAN``,
``version`` (all nullable: ``null`` = no filter) and optional ``transactionIDs`` (1-100).
``StatusMessageRequest``: required ``datetimeFrom``/``datetimeTo``, optional ``transactionID``,
``senderUniqueReference``, ``correlationID``. Errors come back as text for a 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from dip.identifiers import check_mpan_core
from dip.replay import MAX_TRANSACTION_IDS
from dip.timeutil import parse_timestamp

MESSAGE_KEYS = ("datetimeFrom", "datetimeTo", "eventCode", "MPAN", "version")


@dataclass
class Selection:
    since: float | None = None
    until: float | None = None
    event_code: str | None = None
    mpan: str | None = None
    version: str | None = None
    transaction_ids: list[str] = field(default_factory=list)
    transaction_id: str | None = None
    sur: str | None = None
    correlation_id: str | None = None

    def filters(self) -> Iterator[tuple[str, Any]]:
        """SQL clauses over ``messages m`` (publications)."""
        if self.since is not None:
            yield "AND m.received_at >= ?", self.since
        if self.until is not None:
            yield "AND m.received_at <= ?", self.until
        if self.event_code is not None:
            yield "AND m.event_code = ?", self.event_code
        if self.mpan is not None:
            yield "AND m.mpan_core = ?", self.mpan
        if self.version is not None:
            yield "AND m.schema_version = ?", self.version

    def status_filters(self) -> Iterator[tuple[str, Any]]:
        if self.since is not None:
            yield "AND created_at >= ?", self.since
        if self.until is not None:
            yield "AND created_at <= ?", self.until
        if self.transaction_id is not None:
            yield "AND transaction_id = ?", self.transaction_id
        if self.sur is not None:
            yield "AND sender_unique_reference = ?", self.sur
        if self.correlation_id is not None:
            yield "AND correlation_id = ?", self.correlation_id


def _object(body: bytes) -> dict[str, Any] | str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return f"body is not JSON: {exc}"
    return data if isinstance(data, dict) else "body must be a JSON object"


def _time(data: dict[str, Any], key: str, *, required: bool) -> float | str | None:
    value = data.get(key)
    if value is None:
        return f"{key} is required" if required else None
    if not isinstance(value, str):
        return f"{key} must be a DT-003 string or null"
    try:
        return parse_timestamp(value).timestamp()
    except ValueError as exc:
        return f"{key}: {exc}"


def _opt_str(data: dict[str, Any], key: str, max_len: int) -> str | bool | None:
    """The value, None, or False when it is not a string of 1..max_len characters."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        return False
    return value


def parse_message_request(body: bytes) -> Selection | str:
    data = _object(body)
    if isinstance(data, str):
        return data
    missing = [k for k in MESSAGE_KEYS if k not in data]
    if missing:
        return f"MessageRequest is missing required key(s) {missing} (send null to not filter)"
    extra = set(data) - {*MESSAGE_KEYS, "transactionIDs"}
    if extra:
        return f"MessageRequest has unknown key(s) {sorted(extra)}"
    sel = Selection()
    for key, attr in (("datetimeFrom", "since"), ("datetimeTo", "until")):
        value = _time(data, key, required=False)
        if isinstance(value, str):
            return value
        setattr(sel, attr, value)
    for key, attr, size in (("eventCode", "event_code", 50), ("version", "version", 10)):
        value = _opt_str(data, key, size)
        if value is False:
            return f"{key} must be a string of 1-{size} characters or null"
        setattr(sel, attr, value)
    mpan = data["MPAN"]
    if mpan is not None and check_mpan_core(mpan) is not None:
        return "MPAN must be a valid 13-digit MPAN core or null"
    sel.mpan = mpan
    if "transactionIDs" in data:
        ids = data["transactionIDs"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_TRANSACTION_IDS:
            return f"transactionIDs must be an array of 1-{MAX_TRANSACTION_IDS} transaction IDs"
        if not all(isinstance(i, str) and 1 <= len(i) <= 65 for i in ids):
            return "transactionIDs items must be strings of 1-65 characters"
        sel.transaction_ids = list(ids)
    return sel


def parse_status_request(body: bytes) -> Selection | str:
    data = _object(body)
    if isinstance(data, str):
        return data
    extra = set(data) - {
        "datetimeFrom",
        "datetimeTo",
        "transactionID",
        "senderUniqueReference",
        "correlationID",
    }
    if extra:
        return f"StatusMessageRequest has unknown key(s) {sorted(extra)}"
    sel = Selection()
    for key, attr in (("datetimeFrom", "since"), ("datetimeTo", "until")):
        value = _time(data, key, required=True)
        if isinstance(value, str):
            return value
        setattr(sel, attr, value)
    for key, attr, size in (
        ("transactionID", "transaction_id", 65),
        ("senderUniqueReference", "sur", 200),
        ("correlationID", "correlation_id", 60),
    ):
        value = _opt_str(data, key, size)
        if value is False:
            return f"{key} must be a string of 1-{size} characters or null"
        setattr(sel, attr, value)
    return sel
