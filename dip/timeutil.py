"""DT-003 timestamps: exactly 25 characters, ``YYYY-MM-DDThh:mm:ss+hh:mm`` (PROTOCOL.md §2.10)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

TIMESTAMP_RE: Final = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}\Z"
)
DATE_RE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def format_timestamp(dt: datetime) -> str:
    """``dt`` as a DT-003 string (seconds precision; naive values are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.replace(microsecond=0).isoformat()


def parse_timestamp(text: str) -> datetime:
    """Parse a DT-003 string; raises ``ValueError`` with the reason when it is not one."""
    if len(text) != 25:
        raise ValueError(
            f"must be exactly 25 characters (YYYY-MM-DDThh:mm:ss+hh:mm), got {len(text)}"
        )
    if not TIMESTAMP_RE.match(text):
        raise ValueError("must have the form YYYY-MM-DDThh:mm:ss+hh:mm (no 'Z', no fractions)")
    dt = datetime.fromisoformat(text)
    offset = dt.utcoffset()
    if offset is None or abs(offset) >= timedelta(hours=24):  # pragma: no cover - regex bounds it
        raise ValueError("offset out of range")
    return dt


def now_timestamp() -> str:
    return format_timestamp(datetime.now(UTC))
