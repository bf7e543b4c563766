"""Section `protocol`: parse + L1-L2 validation, sign and verify, each beside its floor."""

from __future__ import annotations

from bench.protocol_parse import run as run_parse
from bench.protocol_sign import run as run_sign
from bench.run import Row


def run(quick: bool) -> list[Row]:
    return run_parse(quick) + run_sign(quick)
