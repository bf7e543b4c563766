"""The outbound fault drills (scripts/drill_outbound.py) with a small N: real sandbox, gunicorn,
Celery worker and beat on dedicated databases and Redis dbs (the two drills may run at once).

* mixed: 30 % 503, 30 % of the rest processed then the answer dropped, 10 % batches refused
  whole, the sandbox's wording terse, two genuine duplicate references, the worker killed with
  -9 and the broker flushed mid-run: 0 valid messages rejected, 0 duplicates accepted, every
  message final;
* outage: every send refused for a few seconds (= 72 hours) while the client keeps submitting:
  "DIP unavailable since" shown throughout, then every message accepted once, in per-MPAN
  order, none failed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def drill(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "scripts/drill_outbound.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_mixed_faults_lose_nothing_accept_no_duplicate() -> None:
    stdout = drill("--messages", "60", "--batch", "10")
    assert "drill PASSED" in stdout
    assert re.search(r"duplicates accepted\s+0\n", stdout)


@pytest.mark.slow
def test_outage_queues_shows_and_drains_in_order() -> None:
    stdout = drill("--outage", "4", "--messages", "60", "--batch", "5")
    assert "outage drill PASSED" in stdout
    assert re.search(r"'DIP unavailable since' shown throughout\s+True\n", stdout)
