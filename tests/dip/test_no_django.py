"""The protocol library must stay plain Python: no module under dip/ may import Django."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

DIP = Path(__file__).resolve().parents[2] / "dip"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            names.update(
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
    return names


def test_no_module_imports_django() -> None:
    modules = sorted(DIP.rglob("*.py"))
    assert modules
    offenders = {
        str(p.relative_to(DIP)): sorted(
            n for n in _imports(p) if n.split(".")[0] in ("django", "rest_framework")
        )
        for p in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_dip_module_does_not_load_django() -> None:
    names = [
        ".".join(p.relative_to(DIP.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in sorted(DIP.rglob("*.py"))
    ]
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}:\n"
        "    importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework'))\n"
        "print(bad)\n"
        "raise SystemExit(1 if bad else 0)\n"
    )
    env = {"PYTHONPATH": str(DIP.parent), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=DIP.parent, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
