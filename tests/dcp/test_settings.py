"""Production settings pass Django's deployment checklist and refuse to start without
secrets."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_SETTINGS_MODULE": "dcp.settings.prod"} | env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PROD_ENV = {
    "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
    "DCP_MASTER_KEYS": "prod-1=" + base64.b64encode(os.urandom(32)).decode(),
    "DCP_MASTER_KEY_ID": "prod-1",
    "DCP_BASE_DOMAIN": "dcp.example.com",
}


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secrets():
    result = _manage("check", env_extra={})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
