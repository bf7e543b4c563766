"""Domain errors and validation findings shared by every part of the protocol library.

A *finding* is one observation about a message (code, severity, JSON path, message), using the
DIP's own response codes (``MSGnnnn`` for checks the DIP makes on a sender's message, ``RCPnnnn``
for checks a recipient makes). Library functions return findings rather than raise where a
caller needs the full list; they raise a :class:`DipError` subclass where one failure ends the
operation (for example a bad signature).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Level(IntEnum):
    """DIP validation levels (PROTOCOL.md §5.1)."""

    SYNTAX = 1  # encoding, JSON, size
    SCHEMA = 2  # envelope + custom block schema
    CONTEXT = 3  # roles, environment, recipients, nomination
    BUSINESS = 4  # per-interface business rules


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    path: str
    message: str
    level: Level = Level.SCHEMA
    index: int | None = None  # position in a batch array, when the finding concerns one item

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_text(self) -> str:
        """The ``"<CODE> - <text>"`` form used in ``StandardResponse.message``."""
        return f"{self.code} - {self.message}"


class DipError(Exception):
    """Base class of every error the library raises."""

    code: str = "MSG1000"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationFailure(DipError):
    """Raised when a caller asks for a message that must be valid and it is not."""

    def __init__(self, findings: list[Finding]) -> None:
        first = findings[0] if findings else None
        super().__init__(
            first.message if first else "validation failed",
            code=first.code if first else "MSG1000",
        )
        self.findings = list(findings)


class SignatureError(DipError):
    """A signature, content hash, certificate or signature date did not verify."""

    code = "RCP9999"


class TransportError(DipError):
    """The DIP (or a peer) could not be reached or answered outside the protocol."""

    code = "MSG1000"
