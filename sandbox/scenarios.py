"""Scenario traffic: simulated counterparties sending to our clients, on a schedule.

A scenario is a YAML file in ``sandbox/scenarios/`` (keys below; any of them can be overridden
when starting a run, e.g. ``rate`` and ``duration``)::

    name: evening-peak
    interface: IF-021              # channel; messages come from dip.samples.make_message
    event_code: "[ActivePower]"    # optional (first event code of the interface)
    from: ["1409019001"]           # sender DIP IDs (registry entries, usually simulated)
    to: ["2309010001"]             # primary recipients (our clients)
    rate: 20                       # messages per second (base rate)
    duration: 60                   # seconds
    shape: steady | peak | burst   # peak: ramp to rate*peak_factor and back (the 18:00-19:00
    peak_factor: 5                 #   evening peak compressed into the run); burst: steady plus
    burst_every: 10                #   burst_size messages at once every burst_every seconds
    burst_size: 200
    duplicates: 0                  # extra copies of every message (duplicate storm, new SURs)
    malformed_rate: 0.0            # share of messages broken after DIP validation
    bad_signature_rate: 0.0        # share delivered with a signature nobody trusts
    out_of_order: 0                # >1: sequences of N per MPAN, delivered newest first
    periods: 48                    # IF-021 half-hours per message
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dip.envelope import Message
from dip.samples import make_message
from sandbox.routing import new_transaction_id

if TYPE_CHECKING:
    from sandbox.core import Sandbox

TICK = 0.2
SHAPES = ("steady", "peak", "burst")


class ScenarioError(ValueError):
    pass


def peak_factor_at(progress: float, factor: float) -> float:
    """Rate multiplier of the evening-peak shape at ``progress`` (0..1) through the run."""
    if progress < 0.25:
        return 1.0
    if progress < 0.5:
        return 1.0 + (factor - 1.0) * (progress - 0.25) / 0.25
    if progress < 0.75:
        return factor
    return factor - (factor - 1.0) * (progress - 0.75) / 0.25


@dataclass
class ScenarioRun:
    id: str
    name: str
    params: dict[str, Any]
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    state: str = "running"
    sent: int = 0
    malformed: int = 0
    bad_signature: int = 0
    duplicates: int = 0
    task: asyncio.Task[None] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "params": self.params,
            "sent": self.sent,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "bad_signature": self.bad_signature,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


class ScenarioRunner:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self._runs: dict[str, ScenarioRun] = {}
        self._ids = itertools.count(1)

    def available(self) -> list[str]:
        folder = self.sb.settings.scenarios_dir
        return sorted(p.stem for p in folder.glob("*.yaml")) if folder.exists() else []

    def load(self, name: str) -> dict[str, Any]:
        path = self.sb.settings.scenarios_dir / f"{name}.yaml"
        if not name.replace("-", "").replace("_", "").isalnum() or not path.exists():
            raise ScenarioError(f"no scenario {name!r}; available: {self.available()}")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return dict(data)

    def runs(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self._runs.values()]

    def start(self, name: str, overrides: dict[str, Any] | None = None) -> ScenarioRun:
        params = {**self.load(name), **(overrides or {})}
        params = self._check(params)
        run = ScenarioRun(f"R{next(self._ids)}", name, params)
        run.task = asyncio.get_running_loop().create_task(self._run(run))
        self._runs[run.id] = run
        return run

    async def stop(self, run_id: str) -> ScenarioRun | None:
        run = self._runs.get(run_id)
        if run is not None and run.task is not None and not run.task.done():
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
            run.state, run.finished_at = "stopped", time.time()
        return run

    async def stop_all(self) -> None:
        for run_id in list(self._runs):
            await self.stop(run_id)

    def _check(self, p: dict[str, Any]) -> dict[str, Any]:
        cat = self.sb.catalogue()
        iface = cat.get(str(p.get("interface", "IF-021")))
        if iface is None:
            raise ScenarioError(f"unknown interface {p.get('interface')!r}")
        p["interface"] = iface.interface_id
        p["event_code"] = p.get("event_code") or iface.event_codes[0]
        if p["event_code"] not in iface.event_codes:
            raise ScenarioError(f"{p['event_code']} is not an event code of {iface.interface_id}")
        senders = [str(s) for s in _as_list(p.get("from"))]
        targets = [str(t) for t in _as_list(p.get("to"))]
        for dip in (*senders, *targets):
            if not self.sb.registry.is_known(dip):
                raise ScenarioError(f"DIP ID {dip} is not in the registry")
        if not senders or not targets:
            raise ScenarioError("a scenario needs 'from' and 'to' DIP IDs")
        p["from"], p["to"] = senders, targets
        if p.get("shape", "steady") not in SHAPES:
            raise ScenarioError(f"shape must be one of {SHAPES}")
        p["rate"] = float(p.get("rate", 10))
        p["duration"] = float(p.get("duration", 60))
        if p["rate"] < 0 or p["duration"] <= 0 or p["duration"] > 86_400 or p["rate"] > 100_000:
            raise ScenarioError("rate must be 0..100000 and duration 0..86400 seconds")
        return p

    async def _run(self, run: ScenarioRun) -> None:
        p = run.params
        rng = random.Random(p.get("seed"))
        start = time.monotonic()
        due, next_burst = 0.0, float(p.get("burst_every", 10))
        try:
            while (elapsed := time.monotonic() - start) < p["duration"]:
                rate = p["rate"]
                if p.get("shape") == "peak":
                    rate *= peak_factor_at(elapsed / p["duration"], float(p.get("peak_factor", 5)))
                due += rate * TICK
                n, due = int(due), due - int(due)
                if p.get("shape") == "burst" and elapsed >= next_burst:
                    n += int(p.get("burst_size", 200))
                    next_burst += float(p.get("burst_every", 10))
                if n:
                    self._emit(run, n, rng)
                await asyncio.sleep(TICK)
            run.state = "finished"
        except asyncio.CancelledError:
            run.state = "stopped"
            raise
        finally:
            run.finished_at = time.time()

    def _mpan_for(self, targets: list[str], rng: random.Random) -> str | None:
        mpans = [
            m
            for m, e in self.sb.registry.mpans.items()
            if set(e.appointments.values()) & set(targets)
        ]
        return rng.choice(mpans) if mpans else None

    def _emit(self, run: ScenarioRun, n: int, rng: random.Random) -> None:
        p = run.params
        sequence = max(1, int(p.get("out_of_order", 0) or 0))
        now = datetime.now(UTC)
        batches: list[list[dict[str, Any]]] = []
        made = 0
        while made < n:
            sender = rng.choice(p["from"])
            entry = self.sb.registry.get(sender)
            mpan = self._mpan_for(p["to"], rng)
            seq = []
            for j in range(min(sequence, n - made) if sequence > 1 else 1):
                item = make_message(
                    p["interface"],
                    p["event_code"],
                    environment=self.sb.registry.environment,
                    sender_dip_id=sender,
                    sender_role=entry.role if entry else None,
                    dcp_dip_id=None,
                    mpan_core=mpan,
                    rng=rng,
                    spec_version=self.sb.registry.spec_version,
                    when=now - timedelta(seconds=sequence - j),
                    periods=int(p.get("periods", 48)),
                )
                item["payload"]["CommonBlock"]["A0"]["primaryRecipients"] = list(p["to"])
                seq.append(item)
                for _ in range(int(p.get("duplicates", 0) or 0)):
                    seq.append(_duplicate(item, rng))
                    run.duplicates += 1
                made += 1
            batches.append(list(reversed(seq)) if sequence > 1 else seq)
        if sequence > 1:  # each sequence member alone, newest first
            for seq in batches:
                for item in seq:
                    self._route(run, [item], rng)
        else:
            self._route(run, [i for b in batches for i in b], rng)

    def _route(self, run: ScenarioRun, items: list[dict[str, Any]], rng: random.Random) -> None:
        p = run.params
        now = datetime.now(UTC)
        perturb: dict[int, str] = {}
        for i, item in enumerate(items):
            if rng.random() < float(p.get("malformed_rate", 0) or 0):
                _break(item, rng)
                run.malformed += 1
            elif rng.random() < float(p.get("bad_signature_rate", 0) or 0):
                perturb[i] = "bad_signature"
                run.bad_signature += 1
        messages = [Message(item, i) for i, item in enumerate(items)]
        txns = [new_transaction_id(m, now) for m in messages]
        for m in messages:
            self.sb.surs.add((m.sender_dip_id or "", m.sender_unique_reference or ""))
        routed = self.sb.router.route(
            messages,
            txns,
            self.sb.catalogue(),
            origin=f"scenario:{run.name}",
            now=now,
            perturb=perturb,
        )
        self.sb.router.dispatch(routed)
        run.sent += len(items)


def _duplicate(item: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    dup = copy.deepcopy(item)
    s1 = dup["payload"]["CommonBlock"]["S1"]
    head = s1["senderUniqueReference"].rsplit("-", 1)[0]
    s1["senderUniqueReference"] = f"{head}-{rng.getrandbits(64):016x}"
    return dup


def _break(item: dict[str, Any], rng: random.Random) -> None:
    """Damage a message the way real malformed traffic looks (recipient L3 must catch it)."""
    common = item["payload"]["CommonBlock"]
    how = rng.choice(("missing_subtext", "bad_mpan", "bad_environment"))
    if how == "missing_subtext":
        common["S1"].pop("subText", None)
    elif how == "bad_mpan" and "M0" in common:
        mpan = common["M0"]["MPANCore"]
        common["M0"]["MPANCore"] = mpan[:12] + str((int(mpan[12]) + 1) % 10)
    else:
        common["S1"]["environmentTag"] = "PRD" if common["S1"]["environmentTag"] != "PRD" else "UIT"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def scenario_path(folder: Path, name: str) -> Path:
    return folder / f"{name}.yaml"
