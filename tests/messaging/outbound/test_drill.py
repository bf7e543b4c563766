"""The outbound fault drill (scripts/drill_outbound.py) with a small N: real sandbox, gunicorn,
Celery worker and beat on a dedicated database and Redis db; the worker is killed with -9 and
the broker flushed mid-run; every message must reach the DIP exactly once (~25 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_drill_loses_nothing_and_sends_nothing_twice() -> None:
    out = subprocess.run(
        [sys.executable, "scripts/drill_outbound.py", "--messages", "60", "--batch", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "drill PASSED" in out.stdout
