"""Evidence packs: build over a seeded period, verify, detect tampering by name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence import keys, services, verify
from evidence.models import EvidencePack
from tenants.roles import ClientRole
from tests.evidence.conftest import DAY
from tests.factories import member

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def build_pack(tenant: Any, tmp: Path, **kw: Any) -> tuple[EvidencePack, Path]:
    admin = member(tenant, ClientRole.CLIENT_ADMIN)
    params = dict(period_start=DAY, period_end=timezone.localdate()) | kw
    with tenant_context(tenant):
        pack = services.request_pack(tenant=tenant, actor=admin, **params)
        services.build(pack.pk, tenant_slug=tenant.slug, tenant_name=tenant.name)
        pack.refresh_from_db()
        assert pack.status == EvidencePack.Status.READY, pack.error
        out = tmp / f"{pack.public_id}.zip"
        with default_storage.open(pack.storage_name, "rb") as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return pack, out


def key_pem() -> bytes:
    return keys.public_key_pem().encode()


def rewrite(src: Path, dst: Path, change: dict[str, bytes]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change.get(info.filename, zin.read(info.filename)))


def flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def test_pack_over_seeded_period_verifies(tenant_a, seeded, evidence_media):
    pack, path = build_pack(tenant_a, evidence_media)
    report = verify.verify_pack(str(path), key_pem())
    assert report.ok, report.problems
    assert pack.message_count == 7 and pack.progress == pack.total == 7
    assert report.raw_bodies == 7 and report.audit_rows >= 4
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
        raws = [json.loads(line) for line in zf.read("raw_bodies.jsonl").splitlines()]
        pdf = zf.read("summary.pdf")
    assert {"messages.jsonl", "transitions.jsonl", "audit.jsonl", "summary.pdf"} <= names
    assert manifest["parameters"]["period_start"] == DAY.isoformat()
    assert manifest["generator"]["name"] == "opendcp" and not manifest["empty"]
    assert manifest["audit_anchor"]["prev_hash"] and manifest["audit_anchor"]["head_hash"]
    assert {r["encoding"] for r in raws} == {"utf-8", "base64"}
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    with tenant_context(tenant_a):
        from audit.models import AuditEvent

        assert AuditEvent.objects.filter(action="evidence.pack_built").exists()


def test_filters_narrow_the_pack(tenant_a, seeded, evidence_media):
    pack, path = build_pack(tenant_a, evidence_media, interfaces=["IF-036"])
    assert pack.message_count == 1
    assert verify.verify_pack(str(path), key_pem()).ok


def test_empty_period_is_a_valid_pack_that_says_so(tenant_a, evidence_media):
    pack, path = build_pack(
        tenant_a,
        evidence_media,
        period_start=DAY.replace(year=2020),
        period_end=DAY.replace(year=2020),
    )
    assert pack.message_count == 0
    assert verify.verify_pack(str(path), key_pem()).ok
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["empty"] is True and "No messages" in manifest["note"]


def test_flipping_a_byte_in_any_member_is_named(tenant_a, seeded, evidence_media):
    _, path = build_pack(tenant_a, evidence_media)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        contents = {n: zf.read(n) for n in names}
    for name in names:
        if not contents[name]:  # an empty member has no byte to flip
            continue
        bad = evidence_media / "bad.zip"
        rewrite(path, bad, {name: flip(contents[name])})
        report = verify.verify_pack(str(bad), key_pem())
        assert not report.ok, name
        if name == "manifest.sig":
            assert any(p.check == "signature" and p.file == name for p in report.problems)
        elif name == "manifest.json":
            assert any(p.check in ("signature", "manifest") for p in report.problems)
        else:
            assert any(p.check == "hash" and p.file == name for p in report.problems), (
                name,
                report.problems,
            )


def test_flipping_a_byte_of_the_zip_file_names_the_member(tenant_a, seeded, evidence_media):
    _, path = build_pack(tenant_a, evidence_media)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("messages.jsonl")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x40
    bad = evidence_media / "bad.zip"
    bad.write_bytes(bytes(data))
    report = verify.verify_pack(str(bad), key_pem())
    assert not report.ok
    assert any(p.file == "messages.jsonl" for p in report.problems), report.problems


def test_wrong_key_fails_signature(tenant_a, seeded, evidence_media):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    _, path = build_pack(tenant_a, evidence_media)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    report = verify.verify_pack(str(path), pem)
    assert [p.check for p in report.problems] == ["signature", "signature"]


def test_audit_chain_gap_is_detected_even_when_re_signed(tenant_a, seeded, evidence_media):
    """An insider with the signing key who drops an audit row still breaks continuity."""
    _, path = build_pack(tenant_a, evidence_media)
    with zipfile.ZipFile(path) as zf:
        contents = {n: zf.read(n) for n in zf.namelist()}
    lines = contents["audit.jsonl"].splitlines(keepends=True)
    assert len(lines) >= 3
    audit = b"".join(lines[:1] + lines[2:])
    manifest = json.loads(contents["manifest.json"])
    for entry in manifest["files"]:
        if entry["name"] == "audit.jsonl":
            import hashlib

            entry["sha256"], entry["size"] = hashlib.sha256(audit).hexdigest(), len(audit)
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    signature, _ = keys.sign(manifest_bytes)
    bad = evidence_media / "gap.zip"
    rewrite(
        path,
        bad,
        {"audit.jsonl": audit, "manifest.json": manifest_bytes, "manifest.sig": signature},
    )
    report = verify.verify_pack(str(bad), key_pem())
    checks = {(p.check, p.detail) for p in report.problems}
    assert any(c == "audit-chain" and "gap" in d for c, d in checks), checks
    assert all(p.check == "audit-chain" for p in report.problems)


def test_standalone_script_and_management_command(tenant_a, seeded, evidence_media):
    _, path = build_pack(tenant_a, evidence_media)
    # The verifier auditors download is evidence/verify.py itself, run in isolated mode (-I:
    # no project on sys.path), so it needs nothing but Python and cryptography.
    script = evidence_media / "verify_evidence_pack.py"
    served = Client(HTTP_HOST=settings.BASE_DOMAIN).get(
        "/.well-known/opendcp-verify-evidence-pack.py"
    )
    assert served.status_code == 200
    script.write_bytes(served.content)
    assert served.content == (ROOT / "evidence" / "verify.py").read_bytes()
    key_file = evidence_media / "key.pem"
    key_file.write_bytes(key_pem())
    ok = subprocess.run(
        [sys.executable, "-I", str(script), str(path), "--key", str(key_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    call_command("verify_evidence_pack", str(path))
    bad = evidence_media / "bad.zip"
    with zipfile.ZipFile(path) as zf:
        pdf = zf.read("summary.pdf")
    rewrite(path, bad, {"summary.pdf": flip(pdf)})
    failed = subprocess.run(
        [sys.executable, "-I", str(script), str(bad), "--key", str(key_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1 and "[hash] summary.pdf" in failed.stdout
    with pytest.raises(CommandError):
        call_command("verify_evidence_pack", str(bad))


def test_public_key_is_published_on_every_host(tenant_a, host_client):
    for client in (host_client(None), host_client(tenant_a)):
        response = client.get("/.well-known/opendcp-evidence-key.pem")
        assert response.status_code == 200
        assert response.content.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert keys.evidence_key().key_id.startswith("sha256:")


def test_standalone_verifier_hashes_the_same_audit_fields_as_the_chain() -> None:
    """evidence/verify.py must stay self-contained (auditors run it without the project), so
    it carries its own copy of the audit hash fields; this keeps the two from drifting."""
    from audit.services import HASHED_FIELDS

    assert verify.AUDIT_HASHED_FIELDS == HASHED_FIELDS
