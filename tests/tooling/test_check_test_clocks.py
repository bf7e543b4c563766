"""scripts/check_test_clocks.py: every way a test module can read the clock at import is found;
reads inside functions (tests, fixtures, helpers) are not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import check_test_clocks  # noqa: E402


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import UTC, datetime\nNOW = datetime.now(UTC)\n",
        "import datetime\nNOW = datetime.datetime.utcnow()\n",
        "from datetime import date\nTODAY = date.today()\n",
        "import time\nSTART = time.time()\n",
        "from time import monotonic\nT0 = monotonic()\n",
        "from django.utils import timezone\nOLD = timezone.now()\n",
        "from datetime import datetime\nclass T:\n    at = datetime.now()\n",
        "from datetime import datetime\ndef f(at=datetime.now()):\n    return at\n",
        "import time\ndef f(*, at=time.time()):\n    return at\n",
        "import time, pytest\n@pytest.mark.parametrize('t', [time.time()])\ndef test(t): ...\n",
        "from datetime import datetime\nVALUES = [datetime.now() for _ in range(2)]\n",
        "import time\nf = lambda at=time.time(): at\n",
    ],
)
def test_clock_read_at_import_is_reported(tmp_path: Path, source: str) -> None:
    path = tmp_path / "test_x.py"
    path.write_text(source)
    problems = check_test_clocks.check(path)
    assert len(problems) == 1, problems
    assert "clock read at import time" in problems[0]


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import UTC, datetime\ndef test():\n    now = datetime.now(UTC)\n",
        "import time\nasync def helper():\n    return time.monotonic()\n",
        "import time\nclass T:\n    def m(self):\n        return time.time()\n",
        "from datetime import UTC, datetime\nFIXED = datetime(2025, 4, 1, tzinfo=UTC)\n",
        "import time\nf = lambda: time.time()\n",
    ],
)
def test_clock_read_when_run_is_fine(tmp_path: Path, source: str) -> None:
    path = tmp_path / "test_x.py"
    path.write_text(source)
    assert check_test_clocks.check(path) == []


def test_the_suite_itself_is_clean() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_test_clocks.py"), str(ROOT / "tests")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout
