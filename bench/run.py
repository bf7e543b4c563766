"""`make bench`: run benchmark sections, print a table, write JSON under bench/results/.

Each module in ``bench/sections/`` exposes ``run(quick: bool) -> list[Row]``. A section
measures its subject and, in the same run, the floor it is compared with, so the ratios hold
on a noisy shared machine. Usage: ``python -m bench.run [section ...] [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    section: str
    name: str
    value: float
    unit: str
    baseline_name: str | None = None
    baseline_value: float | None = None
    target: str = ""
    extra: dict[str, float | str] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


def available_sections() -> list[str]:
    pkg = Path(__file__).resolve().parent / "sections"
    return sorted(m.name for m in pkgutil.iter_modules([str(pkg)]) if not m.name.startswith("_"))


def print_table(rows: list[Row]) -> None:
    head = f"{'section':<10} {'measure':<44} {'value':>14} {'baseline':>14} {'ratio':>7}  target"
    print(head)
    print("-" * len(head))
    for r in rows:
        base = f"{r.baseline_value:,.1f}" if r.baseline_value is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        print(
            f"{r.section:<10} {r.name:<44} {r.value:>10,.1f} {r.unit:<3} {base:>14} {ratio:>7}"
            f"  {r.target}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sections", nargs="*", help="sections to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs, for smoke tests")
    args = parser.parse_args(argv)
    names = args.sections or available_sections()
    rows: list[Row] = []
    for name in names:
        module = importlib.import_module(f"bench.sections.{name}")
        started = time.perf_counter()
        section_rows = module.run(quick=args.quick)
        print(f"# {name}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
        rows.extend(section_rows)
    print_table(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"bench-{stamp}.json"
    payload = {
        "when": stamp,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows],
    }
    out.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
