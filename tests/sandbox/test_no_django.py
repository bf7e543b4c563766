"""The sandbox is its own process: no module under sandbox/ may import Django or platform code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
PLATFORM = (
    "django",
    "rest_framework",
    "dcp",
    "tenants",
    "participants",
    "messaging",
    "certificates",
    "evidence",
    "audit",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_sandbox_module_imports_the_platform() -> None:
    modules = sorted(SANDBOX.rglob("*.py"))
    assert modules
    offenders = {
        str(p.relative_to(SANDBOX)): sorted(n for n in _imports(p) if n.split(".")[0] in PLATFORM)
        for p in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_sandbox_does_not_load_django() -> None:
    code = (
        "import sys, sandbox.app, sandbox.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework'))\n"
        "print(bad)\nraise SystemExit(1 if bad else 0)\n"
    )
    env = {"PYTHONPATH": str(SANDBOX.parent), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=SANDBOX.parent, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
