"""The DIP's response codes (PROTOCOL.md §5.4) and which code a failed check reports.

``CODES`` maps every code in ``dip/spec/response_codes.csv`` (a copy of the project's
``response_codes.csv``: the official ``DI-999-Response-Codes`` enum plus third-party codes,
each row naming its source) to a :class:`ResponseCode`.

The same check reports a different code depending on *who* validates (:class:`Side`):

* ``Side.MSG`` - the DIP validating a sender's message (and our DCP pre-validating what it is
  about to send): ``MSGnnnn`` codes.
* ``Side.RCP`` - a recipient validating a delivery from the DIP: ``RCPnnnn`` codes.

``FIELD_CODES`` gives the code per CommonBlock field, the rest fall back to the generic codes
(``SCHEMA``/``MISSING``/``RESTRICTED``). The field mapping follows the code meanings in the
spec (e.g. ``RCP1004`` "Environment Code Invalid, Unexpected or Missing"); where the MSG list has
no specific code (event code, schema version, MPAN) the DIP's generic ``MSG1001`` is used.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

CODE_RE: Final = re.compile(r"^([A-Z]{2,4}\d{3,4})")


class Side(StrEnum):
    MSG = "MSG"  # the DIP (or our DCP before sending) validating a sender's message
    RCP = "RCP"  # a recipient validating a message the DIP delivered


@dataclass(frozen=True, slots=True)
class ResponseCode:
    code: str
    category: str
    meaning: str
    source: str

    @property
    def official(self) -> bool:
        return self.source.startswith("official")

    def text(self) -> str:
        """``"<CODE> - <meaning>"``, the ``StandardResponse.message`` form."""
        return f"{self.code} - {self.meaning}"


def _load() -> dict[str, ResponseCode]:
    path = Path(__file__).resolve().parent / "spec" / "response_codes.csv"
    out: dict[str, ResponseCode] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            # SP010 is listed twice in the source; the first (official) row wins.
            out.setdefault(
                row["code"],
                ResponseCode(row["code"], row["category"], row["meaning"], row["source"]),
            )
    return out


CODES: Final[dict[str, ResponseCode]] = _load()


def meaning(code: str) -> str:
    """The spec's meaning of ``code``, or ``""`` for a code we do not know (kept opaque)."""
    rc = CODES.get(code)
    return rc.meaning if rc else ""


def parse_code(message: str | None) -> str | None:
    """The leading response code of a ``StandardResponse.message`` (``"MSG1001 -Schema..."``)."""
    if not message:
        return None
    m = CODE_RE.match(message)
    return m.group(1) if m else None


def success(side: Side) -> str:
    return "MSG0000" if side is Side.MSG else "RCP0000"


# Generic codes per side: (MSG, RCP).
PROCESSING: Final = ("MSG1000", "RCP1000")  # undecodable body: encoding, JSON, size
SCHEMA: Final = ("MSG1001", "RCP1001")  # any schema failure without a more specific code
MISSING: Final = ("MSG1001", "RCP1021")  # a mandatory data item is missing
RESTRICTED: Final = ("MSG1001", "RCP1022")  # value outside an enum / restricted field
COMBINATION: Final = ("MSG1001", "RCP1023")  # invalid combination of values
INTERFACE: Final = ("MSG1002", "RCP1002")
EVENT: Final = ("MSG1001", "RCP1003")
ENVIRONMENT: Final = ("MSG1001", "RCP1004")
SCHEMA_VERSION: Final = ("MSG1001", "RCP1005")
SUR: Final = ("MSG1006", "RCP1006")
TIMESTAMP: Final = ("MSG1007", "RCP1007")
FUTURE: Final = ("MSG1007", "RCP1008")
SENDER_DIP_ID: Final = ("MSG1009", "RCP1009")
SENDER_ROLE: Final = ("MSG1010", "RCP1010")
DCP_ID: Final = ("MSG1011", "RCP1001")
CORRELATION: Final = ("MSG1012", "RCP1001")
RECIPIENT: Final = ("MSG1030", "RCP1041")
MPAN: Final = ("MSG1001", "RCP1061")
SIGNATURE: Final = ("MSG1000", "RCP9999")

# Code per CommonBlock field ("<block>.<field>"); S2/R1 share S1/R0's fields.
FIELD_CODES: Final[dict[str, tuple[str, str]]] = {
    "S0.interfaceID": INTERFACE,
    "S0.eventCode": EVENT,
    "S0.schemaVersion": SCHEMA_VERSION,
    "S1.environmentTag": ENVIRONMENT,
    "S1.senderUniqueReference": ("MSG1001", "RCP1006"),
    "S1.senderTimestamp": TIMESTAMP,
    "S1.senderDIPID": SENDER_DIP_ID,
    "S1.senderRoleID": SENDER_ROLE,
    "S1.senderCorrelationID": CORRELATION,
    "S1.DIPConnectionProviderID": DCP_ID,
    "A0.primaryRecipients": ("MSG1031", "RCP1041"),
    "A0.secondaryRecipients": ("MSG1033", "RCP1041"),
    "A0.always": ("MSG1035", "RCP1041"),
    "D0.transactionID": ("MSG1001", "RCP1043"),
    "D0.transactionTimestamp": ("MSG1001", "RCP1044"),
    "D0.publicationID": ("MSG1001", "RCP1042"),
    "D0.initialCorrelationID": ("MSG1001", "RCP1046"),
    "D0.replayIndicator": ("MSG1001", "RCP1047"),
    "R0.responseCode": ("MSG1001", "RCP1051"),
    "M0.MPANCore": MPAN,
    "M1.principalMPAN": MPAN,
}
_ALIAS: Final = {"S2": "S1", "R1": "R0"}


def pick(pair: tuple[str, str], side: Side) -> str:
    return pair[0] if side is Side.MSG else pair[1]


def field_code(block: str, field: str, side: Side) -> str | None:
    """The specific code for ``CommonBlock.<block>.<field>``, if the spec has one."""
    pair = FIELD_CODES.get(f"{_ALIAS.get(block, block)}.{field}")
    return pick(pair, side) if pair else None
