"""StandardResponse bodies (PROTOCOL.md §5.3) and the one mapping from findings to HTTP replies.

* :class:`StandardResponseBody` - the 10-key item (all keys always present, most nullable);
  :class:`StandardResponse` - ``{"messageArray": [...], "timestamp": DT-003}``.
* :func:`parse_standard_response` / :func:`parse_status_messages` - parse a DIP reply or a
  status-message callback body; they never raise, returning findings instead.
* :func:`webhook_reply` - what our webhook answers the DIP (§4.4): **201** every message
  accepted, **207** some, **400** none or the batch itself was unusable; one body item per
  message (``RCP0000 - Message Success`` or the first error), echoing D0/S1 references.
* :func:`send_reply` - what the DIP (our sandbox) answers a send (§3.3): **201** with a
  transaction ID per message, or **400** for the whole batch when any message fails level 1-2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from fastjsonschema import JsonSchemaValueException

from dip import codes
from dip.catalogue import load_catalogue
from dip.codes import Side
from dip.envelope import Message
from dip.errors import Finding, Level, Severity
from dip.timeutil import TIMESTAMP_RE, now_timestamp
from dip.validation import MessageResult, ValidationReport

DIP_SENDER_ID: Final = "0000000000"  # the DIP's own ID in status items (spec examples, §1.12)
_KEYS: Final = (
    "transactionID",
    "senderUniqueReference",
    "correlationID",
    "sentTimestamp",
    "senderID",
    "recipientID",
    "DIPConnectionProviderID",
    "message",
    "help",
    "serviceTicketURL",
)


@dataclass(frozen=True, slots=True)
class StandardResponseBody:
    transactionID: str | None
    senderUniqueReference: str | None
    correlationID: str | None
    sentTimestamp: str
    senderID: str
    recipientID: str | None
    DIPConnectionProviderID: str | None
    message: str | None
    help: str | None = None
    serviceTicketURL: str | None = None

    @property
    def code(self) -> str | None:
        """The response code at the start of ``message`` (``^([A-Z]{2,4}\\d{3,4})``)."""
        return codes.parse_code(self.message)

    @property
    def is_success(self) -> bool:
        return self.code in ("MSG0000", "RCP0000")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _KEYS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StandardResponseBody:
        return cls(**{k: d[k] for k in _KEYS})


@dataclass(frozen=True, slots=True)
class StandardResponse:
    messageArray: tuple[StandardResponseBody, ...]
    timestamp: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "messageArray": [b.to_dict() for b in self.messageArray],
            "timestamp": self.timestamp,
        }

    def to_bytes(self) -> bytes:
        # orjson writes the (flat, slotted) body dataclasses itself, fields in order.
        return orjson.dumps({"messageArray": self.messageArray, "timestamp": self.timestamp})

    @property
    def codes(self) -> list[str | None]:
        return [b.code for b in self.messageArray]


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    response: StandardResponse

    @property
    def body(self) -> bytes:
        return self.response.to_bytes()


def _bad(path: str, message: str) -> Finding:
    return Finding("MSG1001", Severity.ERROR, path, message, Level.SCHEMA)


def _bodies(items: Any, path: str, out: list[StandardResponseBody]) -> list[Finding]:
    if not isinstance(items, list) or not items:
        return [_bad(path, "must be a non-empty array of StandardResponseBodyType")]
    check = load_catalogue().validator("StandardResponseBodyType")
    for i, item in enumerate(items):
        try:
            check(item)
        except JsonSchemaValueException as exc:
            return [_bad(f"{path}[{i}]", exc.message.replace("data", "item", 1))]
        out.append(StandardResponseBody.from_dict(item))
    return []


def _load(raw: bytes) -> tuple[Any, list[Finding]]:
    try:
        return orjson.loads(raw), []
    except orjson.JSONDecodeError as exc:
        return None, [Finding("MSG1000", Severity.ERROR, "$", f"not JSON: {exc}", Level.SYNTAX)]


def parse_standard_response(raw: bytes) -> tuple[StandardResponse | None, list[Finding]]:
    """Parse a ``StandardResponse`` object (send reply, webhook reply). Never raises."""
    data, findings = _load(raw)
    if findings:
        return None, findings
    if not isinstance(data, dict) or set(data) != {"messageArray", "timestamp"}:
        return None, [_bad("$", "must be an object with exactly messageArray and timestamp")]
    ts = data["timestamp"]
    if not isinstance(ts, str) or not TIMESTAMP_RE.match(ts):
        return None, [_bad("$.timestamp", "timestamp must be a 25-character DT-003 date-time")]
    bodies: list[StandardResponseBody] = []
    findings = _bodies(data["messageArray"], "$.messageArray", bodies)
    return (None if findings else StandardResponse(tuple(bodies), ts)), findings


def parse_status_messages(raw: bytes) -> tuple[list[StandardResponseBody], list[Finding]]:
    """Parse a ``StandardResponseArray`` (status-message callback, ``POST /statusmessage``)."""
    data, findings = _load(raw)
    bodies: list[StandardResponseBody] = []
    if not findings:
        findings = _bodies(data, "$", bodies)
    return (bodies if not findings else []), findings


def _clip(text: str | None, n: int) -> str | None:
    return None if not text else text[:n]


def _str_or_none(value: Any, size: int | None = None) -> str | None:
    if not isinstance(value, str) or not value or (size is not None and len(value) != size):
        return None
    return value


def body_for(
    m: Message | None, *, sender_id: str, text: str, help: str | None = None, now: str | None = None
) -> StandardResponseBody:
    """A body item about message ``m`` (or about the batch, when ``m`` is None)."""
    if m is None:
        return StandardResponseBody(
            None, None, None, now or now_timestamp(), sender_id, None, None, text, help
        )
    d0 = m.common_dict.get("D0")
    initial = d0.get("initialCorrelationID") if isinstance(d0, dict) else None
    sent = (
        m.common_dict.get("S1", {}).get("senderTimestamp")
        if isinstance(m.common_dict.get("S1"), dict)
        else None
    )
    return StandardResponseBody(
        transactionID=_clip(_str_or_none(m.transaction_id), 65),
        senderUniqueReference=_clip(_str_or_none(m.sender_unique_reference), 200),
        correlationID=_clip(_str_or_none(initial) or _str_or_none(m.correlation_id), 60),
        sentTimestamp=sent
        if isinstance(sent, str) and TIMESTAMP_RE.match(sent)
        else (now or now_timestamp()),
        senderID=sender_id,
        recipientID=_str_or_none(m.sender_dip_id, 10),
        DIPConnectionProviderID=_str_or_none(m.dcp_id, 10),
        message=_clip(text, 200),
        help=_clip(help, 500),
    )


def _result_text(r: MessageResult, side: Side) -> tuple[str, str | None]:
    err = r.first_error
    if err is None:
        return codes.CODES[codes.success(side)].text(), None
    return err.as_text(), f"{err.path}: {err.message}"


def _batch_bodies(
    findings: list[Finding], sender_id: str, now: str
) -> tuple[StandardResponseBody, ...]:
    errors = [f for f in findings if f.is_error] or findings
    return tuple(
        body_for(None, sender_id=sender_id, text=f.as_text(), help=f.path, now=now)
        for f in errors[:1]
    )


def webhook_reply(
    report: ValidationReport, *, recipient_dip_id: str, now: str | None = None
) -> HttpReply:
    """Our webhook's answer to a DIP delivery (recipient side, §4.4): 201 / 207 / 400."""
    now = now or now_timestamp()
    if not report.results:
        return HttpReply(
            400, StandardResponse(_batch_bodies(report.findings, recipient_dip_id, now), now)
        )
    bodies = []
    for r in report.results:
        text, help_text = _result_text(r, Side.RCP)
        bodies.append(
            body_for(r.message, sender_id=recipient_dip_id, text=text, help=help_text, now=now)
        )
    accepted = sum(1 for r in report.results if r.ok)
    status = 201 if accepted == len(report.results) else 207 if accepted else 400
    return HttpReply(status, StandardResponse(tuple(bodies), now))


def send_reply(
    report: ValidationReport,
    *,
    transaction_id: Callable[[Message], str],
    reject_level: Level = Level.SCHEMA,
    dip_id: str = DIP_SENDER_ID,
    now: str | None = None,
) -> HttpReply:
    """The DIP's synchronous answer to a send (§3.3): 201 all accepted or 400 all rejected.

    A send batch is rejected as a whole when any message has an error at ``reject_level`` or
    below (the spec's example 400 carries ``MSG1001 -Schema Failure``); later-level errors are
    reported asynchronously as status messages, not here.
    """
    now = now or now_timestamp()
    if not report.results:
        return HttpReply(400, StandardResponse(_batch_bodies(report.findings, dip_id, now), now))
    rejected = any(
        f.is_error and f.level <= reject_level for r in report.results for f in r.findings
    ) or any(f.is_error for f in report.batch_findings)
    bodies = []
    for r in report.results:
        if rejected:
            err = next((f for f in r.findings if f.is_error and f.level <= reject_level), None)
            text = (
                err.as_text()
                if err
                else "MSG1000 - Batch rejected: another message failed validation"
            )
            help_text = f"{err.path}: {err.message}" if err else None
            bodies.append(body_for(r.message, sender_id=dip_id, text=text, help=help_text, now=now))
        else:
            b = body_for(r.message, sender_id=dip_id, text=codes.CODES["MSG0000"].text(), now=now)
            bodies.append(_with_txn(b, transaction_id(r.message)))
    return HttpReply(400 if rejected else 201, StandardResponse(tuple(bodies), now))


def _with_txn(b: StandardResponseBody, txn: str) -> StandardResponseBody:
    d = b.to_dict()
    d["transactionID"] = txn
    return StandardResponseBody.from_dict(d)
