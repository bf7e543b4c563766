"""Backup → restore → verify, with the real scripts and PostgreSQL binaries.

The test database's committed state (public + the session's tenant schemas) is backed up and
restored into a scratch database; messages and audit events are then committed there (the test
database itself stays untouched), that database is backed up and restored into a second one,
and the restored copy must pass ``verify_audit_chain`` with the same message counts. Every
database created here is dropped at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SEED = """
from django_tenants.utils import schema_context
from audit.services import record
from messaging import services
with schema_context("t_alpha"):
    raw = services.store_raw(b'{"payload": "backup"}')
    services.create_messages([services.NewMessage(direction="outbound", environment="UIT",
        interface_id="IF-021", dip_id="2309010001", raw=raw) for _ in range(5)], actor="seed")
    record(action="test.backup_seed", summary="seeded in alpha")
with schema_context("t_beta"):
    raw = services.store_raw(b'{"payload": "beta"}')
    services.create_messages([services.NewMessage(direction="inbound", environment="UIT",
        interface_id="IF-024", dip_id="2309010002", raw=raw, transaction_id="T-B1")], actor="seed")
record(action="test.backup_seed", summary="seeded in public")
"""


def _url(name: str) -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DCP_MEDIA_ROOT")}
    env.update({"DJANGO_SETTINGS_MODULE": "dcp.settings.test", **extra})
    return env


def _run(*args: str, **env: str) -> str:
    done = subprocess.run(args, cwd=ROOT, env=_env(**env), capture_output=True, text=True)
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _backup(url: str, out: Path, media: Path) -> Path:
    stdout = _run(
        "scripts/backup.sh", "--out", str(out), DATABASE_URL=url, DCP_MEDIA_ROOT=str(media)
    )
    return Path(stdout.strip().splitlines()[-1])


def _restore(backup: Path, url: str, media: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = ["scripts/restore.sh", str(backup), "--target-url", url]
    if media is not None:
        args += ["--media-root", str(media)]
    return subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True)


def _manage(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(DATABASE_URL=url),
        capture_output=True,
        text=True,
    )


def _counts(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        out = {}
        for schema in ("t_alpha", "t_beta"):
            for table in ("messaging_message", "messaging_transition", "audit_auditevent"):
                row = conn.execute(f'SELECT count(*) FROM "{schema}".{table}').fetchone()
                out[f"{schema}.{table}"] = row[0] if row else None
        row = conn.execute("SELECT count(*) FROM public.audit_auditevent").fetchone()
        out["public.audit_auditevent"] = row[0] if row else None
        return out


@pytest.fixture
def scratch_dbs():
    base = f"{connection.settings_dict['NAME']}_bk"
    names = [f"{base}_src", f"{base}_dst", f"{base}_refused"]
    yield names
    with psycopg.connect(_url("postgres"), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_restore_verify(tmp_path, scratch_dbs):
    src, dst, _ = scratch_dbs
    media = tmp_path / "media"
    (media / "raw" / "ab").mkdir(parents=True)
    (media / "raw" / "ab" / "body.bin").write_bytes(b"\x00archived raw body\xff")

    # 1. The test database (committed state) → a scratch source database.
    first = _backup(_url(connection.settings_dict["NAME"]), tmp_path / "b1", media)
    manifest = json.loads((first / "manifest.json").read_text())
    assert {"public", "t_alpha", "t_beta"} <= set(manifest["schemas"])
    latest = max(p.stem for p in (ROOT / "messaging" / "migrations").glob("0*.py"))
    assert manifest["migration_heads"]["t_alpha"]["messaging"] == latest
    assert set(manifest["files"]) == {"database.dump", "media.tar.gz"}
    done = _restore(first, _url(src))
    assert done.returncode == 0, done.stderr

    # 2. Commit messages and audit events there, back it up, restore into a fresh database.
    seeded = _manage(_url(src), "shell", "-c", SEED)
    assert seeded.returncode == 0, seeded.stderr
    second = _backup(_url(src), tmp_path / "b2", media)
    restored_media = tmp_path / "restored-media"
    done = _restore(second, _url(dst), restored_media)
    assert done.returncode == 0, done.stderr

    # 3. Verify: audit chains intact, counts equal, media identical.
    verified = _manage(_url(dst), "verify_audit_chain")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK    t_alpha" in verified.stdout and "OK    public" in verified.stdout
    before, after = _counts(_url(src)), _counts(_url(dst))
    assert before == after
    assert after["t_alpha.messaging_message"] == 5 and after["t_beta.messaging_message"] == 1
    assert (restored_media / "raw" / "ab" / "body.bin").read_bytes() == b"\x00archived raw body\xff"

    # The audit trigger came back with the data: rows still refuse to change.
    with psycopg.connect(_url(dst)) as conn, pytest.raises(psycopg.Error):
        conn.execute("UPDATE t_alpha.audit_auditevent SET summary = 'edited'")


def test_restore_refuses_an_existing_database_and_a_corrupt_backup(tmp_path, scratch_dbs):
    _, _, refused = scratch_dbs
    media = tmp_path / "media"
    media.mkdir()
    backup = _backup(_url(connection.settings_dict["NAME"]), tmp_path / "b", media)
    existing = _restore(backup, _url(connection.settings_dict["NAME"]))
    assert existing.returncode != 0 and "already exists" in existing.stderr

    with (backup / "database.dump").open("ab") as fh:
        fh.write(b"tampered")
    corrupt = _restore(backup, _url(refused))
    assert corrupt.returncode != 0 and "sha256" in corrupt.stderr
    with psycopg.connect(_url("postgres")) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [refused]).fetchone()
    assert exists is None


def test_settings_point_at_the_database_we_back_up():
    assert settings.DATABASES["default"]["NAME"] == connection.settings_dict["NAME"]
