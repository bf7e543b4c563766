"""Streaming zip writer: each member is hashed as it is written (for the manifest)."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, memoryview | bytes):
        return base64.b64encode(bytes(value)).decode()
    return str(value)


def dumps(row: dict[str, Any]) -> bytes:
    return json.dumps(row, default=json_default, ensure_ascii=False, separators=(",", ":")).encode()


class _Member:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.stream.write(data)
        self.digest.update(data)
        self.size += len(data)


class PackWriter:
    def __init__(self, fh: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self.files: list[dict[str, Any]] = []

    @contextmanager
    def member(self, name: str) -> Iterator[_Member]:
        with self.zip.open(name, "w", force_zip64=True) as stream:
            member = _Member(stream)
            yield member
        self.files.append({"name": name, "sha256": member.digest.hexdigest(), "size": member.size})

    def jsonl(self, name: str, rows: Iterable[dict[str, Any]]) -> int:
        count = 0
        with self.member(name) as out:
            buffer: list[bytes] = []
            for row in rows:
                buffer.append(dumps(row))
                count += 1
                if len(buffer) >= 500:
                    out.write(b"\n".join(buffer) + b"\n")
                    buffer.clear()
            if buffer:
                out.write(b"\n".join(buffer) + b"\n")
        return count

    def add(self, name: str, data: bytes) -> None:
        with self.member(name) as out:
            out.write(data)

    def add_unlisted(self, name: str, data: bytes) -> None:
        self.zip.writestr(name, data)

    def close(self) -> None:
        self.zip.close()
