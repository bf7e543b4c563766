#!/usr/bin/env python3
"""Verify an OpenDCP evidence pack. Needs only Python 3.11+ and ``cryptography``.

    python verify_evidence_pack.py PACK.zip --key evidence-key.pem
    python verify_evidence_pack.py PACK.zip --key-url https://<host>/.well-known/opendcp-evidence-key.pem

Checks, each named in the report: the zip structure and every member's CRC; that the manifest
lists exactly the files in the pack and each file's SHA-256 and size match; the detached
signature over manifest.json (RSASSA-PKCS1-v1_5, SHA-256) with the platform's evidence key;
the audit-chain segment (each row's hash recomputes, sequence numbers are contiguous, each row
links to its predecessor, and the segment joins its anchors); and every raw body's SHA-256.
Exit status 0 when every check passes, 1 otherwise.

This file is kept byte-identical to ``evidence/verify.py`` in the OpenDCP source tree.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
GENESIS_HASH = "0" * 64
AUDIT_HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_email",
    "actor_kind",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "summary",
    "changes",
    "request_id",
    "ip",
    "prev_hash",
)


@dataclass(frozen=True)
class Problem:
    check: str  # zip, manifest, hash, signature, audit-chain, raw-body
    file: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.file}: {self.detail}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    checked_files: int = 0
    audit_rows: int = 0
    raw_bodies: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, check: str, file: str, detail: str) -> None:
        self.problems.append(Problem(check, file, detail))


def audit_hash(row: dict[str, Any]) -> str:
    """The audit chain's row hash (same canonical form as ``audit.services.compute_hash``)."""
    doc = {name: row.get(name) for name in AUDIT_HASHED_FIELDS}
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _member_sha256(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with zf.open(name) as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _jsonl(zf: zipfile.ZipFile, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with zf.open(name) as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, json.loads(line)


def _check_signature(
    report: Report, manifest_bytes: bytes, signature: bytes, key_pem: bytes
) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        public = serialization.load_pem_public_key(key_pem)
    except ValueError as exc:
        report.fail("signature", "public key", f"not a PEM public key ({exc})")
        return
    if not isinstance(public, rsa.RSAPublicKey):
        report.fail("signature", "public key", "not an RSA key")
        return
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_id = "sha256:" + hashlib.sha256(der).hexdigest()
    expected = report.manifest.get("signature", {}).get("key_id")
    if expected and expected != key_id:
        report.fail("signature", SIGNATURE, f"pack was signed by {expected}, key given is {key_id}")
    try:
        public.verify(signature, manifest_bytes, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        report.fail("signature", SIGNATURE, "signature does not match manifest.json")


def _check_audit(report: Report, zf: zipfile.ZipFile, name: str) -> None:
    anchor = report.manifest.get("audit_anchor") or {}
    prev_hash = anchor.get("prev_hash", GENESIS_HASH)
    expected_seq = anchor.get("first_seq")
    last: dict[str, Any] | None = None
    for line, row in _jsonl(zf, name):
        report.audit_rows += 1
        where = f"{name} line {line} (seq {row.get('seq')})"
        if expected_seq is not None and row.get("seq") != expected_seq:
            report.fail("audit-chain", where, f"expected seq {expected_seq}: rows missing (gap)")
        if row.get("prev_hash") != prev_hash:
            report.fail("audit-chain", where, "prev_hash does not link to the previous row")
        if audit_hash(row) != row.get("hash"):
            report.fail("audit-chain", where, "row content does not match its hash")
        prev_hash, expected_seq, last = row.get("hash"), int(row.get("seq", 0)) + 1, row
        if len(report.problems) > 50:
            return
    count = anchor.get("count")
    if count is not None and count != report.audit_rows:
        report.fail(
            "audit-chain", name, f"manifest says {count} rows, pack has {report.audit_rows}"
        )
    if last is not None:
        if anchor.get("last_hash") and last.get("hash") != anchor["last_hash"]:
            report.fail("audit-chain", name, "last row does not match the anchored last hash")
        if last.get("seq") == anchor.get("head_seq") and last.get("hash") != anchor.get(
            "head_hash"
        ):
            report.fail("audit-chain", name, "last row does not match the chain head")


def _check_raw(report: Report, zf: zipfile.ZipFile, name: str) -> None:
    for line, row in _jsonl(zf, name):
        report.raw_bodies += 1
        if row.get("encoding") == "base64":
            data = base64.b64decode(row.get("raw", ""))
        else:
            data = str(row.get("raw", "")).encode("utf-8")
        if hashlib.sha256(data).hexdigest() != row.get("sha256"):
            report.fail("raw-body", f"{name} line {line}", "raw bytes do not match their SHA-256")


def verify_pack(path: str, key_pem: bytes | None) -> Report:
    report = Report()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.fail("zip", path, f"not a readable zip ({exc})")
        return report
    with zf:
        names = set(zf.namelist())
        for required in (MANIFEST, SIGNATURE):
            if required not in names:
                report.fail("manifest", required, "missing from the pack")
        if not report.ok:
            return report
        try:
            manifest_bytes = zf.read(MANIFEST)
            signature = zf.read(SIGNATURE)
        except (zipfile.BadZipFile, OSError, zlib.error) as exc:
            report.fail("zip", MANIFEST, f"unreadable ({exc})")
            return report
        try:
            report.manifest = json.loads(manifest_bytes)
        except ValueError as exc:
            report.fail("manifest", MANIFEST, f"not valid JSON ({exc})")
        if key_pem is None:
            report.fail("signature", SIGNATURE, "no public key given")
        else:
            _check_signature(report, manifest_bytes, signature, key_pem)
        listed = {f["name"]: f for f in report.manifest.get("files", [])}
        for name in sorted(names - listed.keys() - {MANIFEST, SIGNATURE}):
            report.fail("manifest", name, "in the pack but not listed in the manifest")
        readable = set()
        for name, entry in sorted(listed.items()):
            if name not in names:
                report.fail("manifest", name, "listed in the manifest but missing from the pack")
                continue
            try:
                digest, size = _member_sha256(zf, name)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
                report.fail("zip", name, f"member is corrupt ({exc})")
                continue
            report.checked_files += 1
            if digest != entry.get("sha256") or size != entry.get("size"):
                report.fail("hash", name, "SHA-256/size does not match the manifest")
            else:
                readable.add(name)
        if "audit.jsonl" in readable:
            _check_audit(report, zf, "audit.jsonl")
        if "raw_bodies.jsonl" in readable:
            _check_raw(report, zf, "raw_bodies.jsonl")
    return report


def load_key(*, key_file: str | None, key_url: str | None) -> bytes | None:
    if key_file:
        with open(key_file, "rb") as fh:
            return fh.read()
    if key_url:
        with urllib.request.urlopen(key_url, timeout=30) as response:  # noqa: S310
            data: bytes = response.read()
            return data
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an OpenDCP evidence pack.")
    parser.add_argument("pack")
    parser.add_argument("--key", help="the evidence public key (PEM file)")
    parser.add_argument("--key-url", help="URL of the evidence public key (PEM)")
    args = parser.parse_args(argv)
    report = verify_pack(args.pack, load_key(key_file=args.key, key_url=args.key_url))
    for problem in report.problems:
        print(f"FAIL {problem}")
    status = "OK" if report.ok else "FAILED"
    print(
        f"{status}: {report.checked_files} files, {report.audit_rows} audit rows, "
        f"{report.raw_bodies} raw bodies checked"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
