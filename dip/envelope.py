"""The DIP message envelope: parse a batch from bytes, serialise deterministically, stamp D0.

Wire shape (PROTOCOL.md §1.1): a JSON array (``minItems: 1``) of
``{"payload": {"CommonBlock": {...}, "CustomBlock": {...}}}``.

* :func:`parse_batch` is level-1 (syntactic) processing. It **never raises** for bad input: it
  returns a :class:`ParsedBatch` with the raw bytes, one :class:`Message` per array element and
  the findings (codes per :class:`~dip.codes.Side`). Schema and contextual checks are in
  :mod:`dip.validation`.
* :func:`serialise_batch` produces the bytes we send: spec key order (CommonBlock blocks and
  fields as the spec lists them, CustomBlock keys in the order given), compact separators,
  ASCII-only JSON (non-ASCII escaped, so the content hash matches the reference clients, §3.5).
* :func:`stamp_d0` turns an "as sent" message into the "as delivered" form (used by the sandbox).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from dip import codes
from dip.blocks import BLOCK_ORDER, FIELD_ORDER, CommonBlock
from dip.codes import Side
from dip.errors import Finding, Level, Severity

# §3.4: no request limit is published; WebhookConfig's example maxPayloadSize is 100000 Kb.
DEFAULT_MAX_BYTES: Final = 100_000 * 1024
_EMPTY: Final[dict[str, Any]] = {}


class Message:
    """One element of a batch. Accessors never raise; ``common`` builds the typed model."""

    __slots__ = ("_common", "_common_dict", "index", "item")

    def __init__(self, item: Any, index: int = 0) -> None:
        self.item = item
        self.index = index
        self._common: CommonBlock | None = None
        self._common_dict: dict[str, Any] | None = None  # resolved once: every accessor uses it

    def __repr__(self) -> str:
        return f"<Message #{self.index} {self.interface_id} {self.event_code}>"

    @property
    def payload(self) -> dict[str, Any]:
        p = self.item.get("payload") if isinstance(self.item, dict) else None
        return p if isinstance(p, dict) else _EMPTY

    @property
    def common_dict(self) -> dict[str, Any]:
        c = self._common_dict
        if c is None:
            found = self.payload.get("CommonBlock")
            c = self._common_dict = found if isinstance(found, dict) else _EMPTY
        return c

    @property
    def custom(self) -> dict[str, Any] | None:
        c = self.payload.get("CustomBlock")
        return c if isinstance(c, dict) else None

    def _get(self, block: str, key: str) -> Any:
        b = self.common_dict.get(block)
        return b.get(key) if isinstance(b, dict) else None

    def _str(self, block: str, key: str) -> str | None:
        v = self._get(block, key)
        return v if isinstance(v, str) else None

    @property
    def interface_id(self) -> str | None:
        return self._str("S0", "interfaceID")

    @property
    def event_code(self) -> str | None:
        return self._str("S0", "eventCode")

    @property
    def schema_version(self) -> str | None:
        return self._str("S0", "schemaVersion")

    @property
    def sender_unique_reference(self) -> str | None:
        return self._str("S1", "senderUniqueReference")

    @property
    def sender_dip_id(self) -> str | None:
        return self._str("S1", "senderDIPID")

    @property
    def sender_role(self) -> str | None:
        return self._str("S1", "senderRoleID")

    @property
    def environment(self) -> str | None:
        return self._str("S1", "environmentTag")

    @property
    def dcp_id(self) -> str | None:
        return self._str("S1", "DIPConnectionProviderID")

    @property
    def correlation_id(self) -> str | None:
        return self._str("S1", "senderCorrelationID")

    @property
    def mpan_core(self) -> str | None:
        return self._str("M0", "MPANCore") or self._str("M1", "principalMPAN")

    @property
    def transaction_id(self) -> str | None:
        return self._str("D0", "transactionID")

    @property
    def common(self) -> CommonBlock:
        """Typed CommonBlock; raises :class:`~dip.errors.ValidationFailure` if not modelable."""
        if self._common is None:
            self._common = CommonBlock.from_dict(
                self.common_dict if self.common_dict is not _EMPTY else None,
                path=f"$[{self.index}].payload.CommonBlock",
            )
        return self._common

    def to_dict(self) -> dict[str, Any]:
        """The array element, ``{"payload": {...}}``."""
        return self.item if isinstance(self.item, dict) else {"payload": self.item}


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    raw: bytes
    messages: list[Message]
    findings: list[Finding] = field(default_factory=list)
    data: Any = None
    too_large: bool = False

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)

    @property
    def batch_failed(self) -> bool:
        """True when the body as a whole could not be used (no messages to look at)."""
        return any(f.is_error and f.index is None for f in self.findings)


def _f(pair: tuple[str, str], side: Side, path: str, msg: str, index: int | None) -> Finding:
    return Finding(codes.pick(pair, side), Severity.ERROR, path, msg, Level.SYNTAX, index)


def _reject_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_batch(
    raw: bytes | bytearray | memoryview,
    *,
    side: Side = Side.MSG,
    max_bytes: int = DEFAULT_MAX_BYTES,
    reject_duplicate_keys: bool = False,
) -> ParsedBatch:
    """Level 1: size, strict UTF-8, JSON (no NaN/Infinity), batch array shape. Never raises.

    ``reject_duplicate_keys`` parses a second time with the stdlib to detect repeated object
    keys (orjson keeps the last one silently); it costs several times the orjson parse.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        msg = f"body must be bytes, got {type(raw).__name__}"
        return ParsedBatch(b"", [], [_f(codes.PROCESSING, side, "$", msg, None)])
    raw = bytes(raw)
    if len(raw) > max_bytes:
        msg = f"body is {len(raw)} bytes, over the {max_bytes} byte limit"
        return ParsedBatch(raw, [], [_f(codes.PROCESSING, side, "$", msg, None)], too_large=True)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as uexc:
            msg = f"body is not valid UTF-8 at byte {uexc.start}"
        else:
            msg = f"body is not valid JSON: {exc}"
        return ParsedBatch(raw, [], [_f(codes.PROCESSING, side, "$", msg, None)])
    if reject_duplicate_keys:
        try:
            json.loads(raw, object_pairs_hook=_reject_pairs)
        except ValueError as exc:
            msg = f"body is not acceptable JSON: {exc}"
            return ParsedBatch(raw, [], [_f(codes.SCHEMA, side, "$", msg, None)], data)
    if not isinstance(data, list):
        msg = f"body must be a JSON array of messages, got {_json_type(data)}"
        return ParsedBatch(raw, [], [_f(codes.SCHEMA, side, "$", msg, None)], data)
    if not data:
        msg = "body must contain at least one message (minItems 1)"
        return ParsedBatch(raw, [], [_f(codes.SCHEMA, side, "$", msg, None)], data)
    messages = [Message(item, i) for i, item in enumerate(data)]
    findings: list[Finding] = []
    for i, item in enumerate(data):
        if type(item) is dict and len(item) == 1 and type(item.get("payload")) is dict:
            continue
        findings.append(item_shape_finding(item, i, side))
    return ParsedBatch(raw, messages, findings, data)


def item_shape_finding(item: Any, i: int, side: Side) -> Finding:
    path = f"$[{i}]"
    if not isinstance(item, dict):
        return _f(codes.SCHEMA, side, path, f"message must be an object, got {_json_type(item)}", i)
    if "payload" not in item:
        return _f(codes.MISSING, side, f"{path}.payload", "message has no 'payload'", i)
    extra = sorted(k for k in item if k != "payload")
    if extra:
        return _f(codes.SCHEMA, side, path, f"message has keys besides 'payload': {extra}", i)
    got = _json_type(item["payload"])
    return _f(codes.SCHEMA, side, f"{path}.payload", f"payload must be an object, got {got}", i)


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


# -- serialisation ---------------------------------------------------------------------------


def ordered_common(common: Mapping[str, Any]) -> dict[str, Any]:
    """CommonBlock with blocks and fields in spec order (unknown keys kept, after known ones)."""
    out: dict[str, Any] = {}
    for name in (*BLOCK_ORDER, *(k for k in common if k not in FIELD_ORDER)):
        if name not in common:
            continue
        block = common[name]
        if isinstance(block, Mapping):
            order = FIELD_ORDER.get(name, ())
            nb = {k: block[k] for k in order if k in block}
            nb.update((k, v) for k, v in block.items() if k not in nb)
            block = nb
        out[name] = block
    return out


def _payload_of(item: Mapping[str, Any] | Message) -> Any:
    if isinstance(item, Message):
        item = item.to_dict()
    return item.get("payload", item)


def ordered_item(item: Mapping[str, Any] | Message) -> dict[str, Any]:
    payload = _payload_of(item)
    if not isinstance(payload, Mapping):
        return {"payload": payload}
    out: dict[str, Any] = {}
    if "CommonBlock" in payload and isinstance(payload["CommonBlock"], Mapping):
        out["CommonBlock"] = ordered_common(payload["CommonBlock"])
    out.update((k, v) for k, v in payload.items() if k not in out)
    return {"payload": out}


def serialise_batch(
    items: Iterable[Mapping[str, Any] | Message], *, ascii_only: bool = True
) -> bytes:
    """Bytes of a batch: spec key order, compact separators, UTF-8 (ASCII-escaped by default).

    ``items`` may be array elements (``{"payload": ...}``), bare payloads or :class:`Message`.
    """
    batch = [ordered_item(i) for i in items]
    out = orjson.dumps(batch)
    if ascii_only and not out.isascii():
        out = json.dumps(batch, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return out


def serialise_message(item: Mapping[str, Any] | Message, *, ascii_only: bool = True) -> bytes:
    return serialise_batch([item], ascii_only=ascii_only)


def stamp_d0(
    item: Mapping[str, Any] | Message,
    *,
    transaction_id: str,
    transaction_timestamp: str,
    publication_id: str,
    initial_correlation_id: str | None = None,
    replay_indicator: bool = False,
    service_ticket_url: str | None = None,
    secondary_recipients: Sequence[str] = (),
    always: Sequence[str] = (),
) -> dict[str, Any]:
    """The "as delivered" form: a copy with ``D0`` set and ``A0`` routing filled in (§1.13).

    The sender's blocks pass through unchanged; ``A0`` is added when the sender omitted it
    (inferred, §1.13) and its ``secondaryRecipients``/``always`` are replaced by the routing.
    """
    payload = dict(_payload_of(item))
    common = dict(payload.get("CommonBlock") or {})
    a0 = dict(common.get("A0") or {"primaryRecipients": []})
    a0["secondaryRecipients"] = list(secondary_recipients)
    a0["always"] = list(always)
    common["A0"] = a0
    common["D0"] = {
        "transactionID": transaction_id,
        "transactionTimestamp": transaction_timestamp,
        "publicationID": publication_id,
        "initialCorrelationID": initial_correlation_id,
        "replayIndicator": replay_indicator,
        "serviceTicketURL": service_ticket_url,
    }
    payload["CommonBlock"] = ordered_common(common)
    return ordered_item({"payload": payload})


def strip_d0(item: Mapping[str, Any] | Message) -> dict[str, Any]:
    """The "as sent" form of a delivered message (``D0`` removed)."""
    payload = dict(_payload_of(item))
    common = {k: v for k, v in (payload.get("CommonBlock") or {}).items() if k != "D0"}
    payload["CommonBlock"] = common
    return ordered_item({"payload": payload})
