"""Parse + level 1-2 validation rate for a typical IF-021 single-message batch, beside its floor.

Body: a realistic ~2 KB IF-021 ``[ActivePower]`` batch from :mod:`dip.samples` (one day, 14
half-hour periods), serialised as we would send it. Floor = stdlib ``json.loads`` of the same
bytes, the least any JSON consumer must do. Ours = :func:`dip.validation.validate_batch` with
``max_level=SCHEMA`` (size, UTF-8, JSON, array shape, interface/event/schemaVersion, the
compiled variant schema, MPAN check digit, timestamps). Rounds alternate floor / ours and the
best round of each counts, so a noisy neighbour hurts both alike. One core, one thread.

Target: >= 20,000 msgs/s, or >= 25% of the json.loads floor.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable

from bench.run import Row
from dip.codes import Side
from dip.envelope import serialise_batch
from dip.errors import Level
from dip.samples import make_message
from dip.validation import ValidationContext, validate_batch

SECTION = "protocol"
TARGET_RATE = 20_000.0
TARGET_RATIO = 0.25


def typical_if021_body() -> bytes:
    msg = make_message("IF-021", "[ActivePower]", rng=random.Random(21), periods=14)
    return serialise_batch([msg])


def _rate(fn: Callable[[], object], seconds: float) -> float:
    batch, calls, started = 32, 0, time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return calls / elapsed


def run(quick: bool) -> list[Row]:
    body = typical_if021_body()
    ctx = ValidationContext(side=Side.MSG, max_level=Level.SCHEMA)
    report = validate_batch(body, ctx)  # compiles the variant schema once, outside the timing
    if not report.ok:
        raise RuntimeError(f"bench sample does not validate: {report.findings}")
    rounds, seconds = (2, 0.2) if quick else (5, 1.0)
    floor_best = ours_best = 0.0
    for _ in range(rounds):
        floor_best = max(floor_best, _rate(lambda: json.loads(body), seconds))
        ours_best = max(ours_best, _rate(lambda: validate_batch(body, ctx), seconds))
    ratio = ours_best / floor_best
    met = ours_best >= TARGET_RATE or ratio >= TARGET_RATIO
    return [
        Row(
            section=SECTION,
            name=f"parse + L1-L2 validate IF-021 ({len(body)} B)",
            value=ours_best,
            unit="msg/s",
            baseline_name="json.loads same bytes",
            baseline_value=floor_best,
            target=f">= {TARGET_RATE:,.0f} msg/s or >= {TARGET_RATIO:.0%} of floor "
            f"({'met' if met else 'NOT met'})",
            extra={"body_bytes": float(len(body)), "ratio": round(ratio, 3)},
        )
    ]
