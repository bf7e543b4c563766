"""Level 4: pluggable business rules per interface, with the IF-021 rules we can justify.

A rule is ``rule(message, context) -> Iterable[Finding]``. Register with
``registry.register("IF-021")`` used as a decorator (or ``register("IF-021", fn)``). A rule that
raises does not break validation: the orchestrator turns the exception into a
``MSG1000``/``RCP1000`` finding.

IF-021 rules in :data:`DEFAULT_RULES` (codes from the ECS list, PROTOCOL.md §5.4 and §1.11):

* ``ECS1002`` MQID must match the event: ``[ActivePower]`` -> AI/AE, ``[ReactivePower]`` -> RI/RE.
* ``ECS1014`` ``settlementDayDate`` must be 00:00:00 UTC.
* ``ECS1005`` each ``sp`` (period *end*) must be on :00/:30, after the day start and at most 24 h
  later (the day's 48 half-hours, UTC).
* ``ECS1006`` an ``sp`` may not repeat within the message (same MQID).
* ``ECS1010`` consumption may not be negative; ``ECS1011`` must be zero for ``ZE*`` quality.
* ``ECS1015`` estimated quality (``E*``) needs an estimation reason ``e`` (inferred from the code
  meaning).
* Warning ``MSG1001``/``RCP1023``: ``B044.issuingDataServiceDIPID`` differs from
  ``S1.senderDIPID`` (inferred: the issuing DS is the sender of IF-021).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, overload

from dip import codes
from dip.envelope import Message
from dip.errors import Finding, Level, Severity
from dip.timeutil import parse_timestamp

if TYPE_CHECKING:
    from dip.validation import ValidationContext

Rule = Callable[[Message, "ValidationContext"], Iterable[Finding]]


class RuleRegistry:
    def __init__(self) -> None:
        self._rules: dict[str, list[Rule]] = {}

    @overload
    def register(self, interface_id: str) -> Callable[[Rule], Rule]: ...
    @overload
    def register(self, interface_id: str, rule: Rule) -> Rule: ...
    def register(
        self, interface_id: str, rule: Rule | None = None
    ) -> Rule | Callable[[Rule], Rule]:
        def add(fn: Rule) -> Rule:
            self._rules.setdefault(interface_id, []).append(fn)
            return fn

        return add(rule) if rule is not None else add

    def rules_for(self, interface_id: str) -> list[Rule]:
        return list(self._rules.get(interface_id, ()))

    def copy(self) -> RuleRegistry:
        other = RuleRegistry()
        other._rules = {k: list(v) for k, v in self._rules.items()}
        return other


def business_finding(
    code: str, m: Message, rel: str, message: str, severity: Severity = Severity.ERROR
) -> Finding:
    """A level-4 finding at ``$[i].payload<rel>``."""
    return Finding(code, severity, f"$[{m.index}].payload{rel}", message, Level.BUSINESS, m.index)


DEFAULT_RULES = RuleRegistry()
_MQID_FOR_EVENT = {"[ActivePower]": ("AI", "AE"), "[ReactivePower]": ("RI", "RE")}


def _b900(m: Message) -> dict[str, Any]:
    b = (m.custom or {}).get("B900")
    return b if isinstance(b, dict) else {}


@DEFAULT_RULES.register("IF-021")
def if021_mqid_matches_event(m: Message, ctx: ValidationContext) -> Iterator[Finding]:
    allowed = _MQID_FOR_EVENT.get(m.event_code or "")
    mqid = (_b900(m).get("MQID") or {}).get("measurementQuantityID")
    if allowed and mqid not in allowed:
        msg = f"MQID {mqid!r} is invalid for {m.event_code} (expected {' or '.join(allowed)})"
        yield business_finding("ECS1002", m, ".CustomBlock.B900.MQID.measurementQuantityID", msg)


@DEFAULT_RULES.register("IF-021")
def if021_periods(m: Message, ctx: ValidationContext) -> Iterator[Finding]:
    seen: set[str] = set()
    days = _b900(m).get("settlementDayConsumptionPeriods") or []
    for d, day in enumerate(days):
        dpath = f".CustomBlock.B900.settlementDayConsumptionPeriods[{d}]"
        date_text = day["settlementDay"]["settlementDayDate"]
        try:
            start = parse_timestamp(date_text)
        except ValueError as exc:
            yield business_finding(
                "ECS1014", m, f"{dpath}.settlementDay.settlementDayDate", str(exc)
            )
            continue
        if date_text[11:] != "00:00:00+00:00":
            msg = f"settlementDayDate {date_text} is not 00:00:00 UTC"
            yield business_finding("ECS1014", m, f"{dpath}.settlementDay.settlementDayDate", msg)
        for p, period in enumerate(day["consumptionPeriods"]):
            ppath = f"{dpath}.consumptionPeriods[{p}]"
            yield from _period(m, period, ppath, start, seen)


def _period(
    m: Message, period: dict[str, Any], ppath: str, start: Any, seen: set[str]
) -> Iterator[Finding]:
    sp = period["sp"]
    try:
        end = parse_timestamp(sp)
    except ValueError as exc:
        yield business_finding("ECS1005", m, f"{ppath}.sp", str(exc))
        return
    if end.minute not in (0, 30) or end.second or not start < end <= start + timedelta(days=1):
        msg = f"sp {sp} is not a half-hour period end within its settlement day"
        yield business_finding("ECS1005", m, f"{ppath}.sp", msg)
    key = end.isoformat()
    if key in seen:
        yield business_finding(
            "ECS1006", m, f"{ppath}.sp", f"sp {sp} is duplicated in this message"
        )
    seen.add(key)
    v, q = period["v"], period["q"]
    if v.startswith("-"):
        yield business_finding("ECS1010", m, f"{ppath}.v", f"consumption {v} is negative")
    if q.startswith("ZE") and float(v) != 0:
        yield business_finding(
            "ECS1011", m, f"{ppath}.v", f"consumption must be zero for quality {q}"
        )
    if q.startswith("E") and period["e"] is None:
        yield business_finding(
            "ECS1015", m, f"{ppath}.e", f"estimation reason is null for quality {q}"
        )


@DEFAULT_RULES.register("IF-021")
def if021_issuing_data_service(m: Message, ctx: ValidationContext) -> Iterator[Finding]:
    issuer = ((m.custom or {}).get("B044") or {}).get("issuingDataServiceDIPID")
    if issuer != m.sender_dip_id:
        msg = f"issuingDataServiceDIPID {issuer!r} differs from senderDIPID {m.sender_dip_id!r}"
        code = codes.pick(codes.COMBINATION, ctx.side)
        yield business_finding(
            code, m, ".CustomBlock.B044.issuingDataServiceDIPID", msg, Severity.WARNING
        )
