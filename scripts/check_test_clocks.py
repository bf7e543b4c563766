"""Fail when a test module reads the clock at import time.

A "now" taken when a module is imported is minutes old by the time a slow or busy machine runs
the test that uses it (certificates minted then are "not yet valid" under faketime, windows
drift). Every clock read under tests/ must happen inside a function: a test, a fixture or a
helper it calls. This walks the AST and reports any clock call evaluated at import: module and
class bodies, decorators, default argument values.

    python scripts/check_test_clocks.py [paths…]   # default: tests/
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

# The attribute names whose call reads the wall clock or a monotonic clock.
CLOCK_ATTRS = {
    "now",
    "utcnow",
    "today",
    "time",
    "time_ns",
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "localtime",
    "gmtime",
}
# ... called on these names (datetime.now(), date.today(), time.time(), timezone.now(), …).
CLOCK_OWNERS = {"datetime", "date", "time", "timezone", "dt", "django_timezone", "pendulum"}
# Bare names imported from a clock module (``from time import time``).
CLOCK_FUNCS = {"time", "time_ns", "monotonic", "perf_counter", "now", "utcnow"}


def _is_clock_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in CLOCK_ATTRS:
        owner = func.value
        while isinstance(owner, ast.Attribute):  # datetime.datetime.now()
            if owner.attr in CLOCK_OWNERS:
                return True
            owner = owner.value
        return isinstance(owner, ast.Name) and owner.id in CLOCK_OWNERS
    return isinstance(func, ast.Name) and func.id in CLOCK_FUNCS


def _import_time_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node evaluated when the module is imported (function bodies excluded)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # The body runs later; decorators, defaults and annotations run now.
            stack.extend(node.decorator_list)
            stack.extend(d for d in node.args.defaults if d is not None)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def check(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path}:{node.lineno}: clock read at import time ({ast.unparse(node)}); "
        "take 'now' inside the test or a fixture"
        for node in _import_time_nodes(tree)
        if isinstance(node, ast.Call) and _is_clock_call(node)
    ]


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path("tests")]
    files = sorted(p for r in roots for p in ([r] if r.is_file() else r.rglob("*.py")))
    problems = [line for f in files for line in check(f)]
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} clock read(s) at import time under {', '.join(map(str, roots))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
