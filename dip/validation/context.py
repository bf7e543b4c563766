"""Level 3: the message in its context (channel, environment, roles, DCP, recipients, clock).

Checks and codes (``MSG`` side / ``RCP`` side):

* ``S0.interfaceID`` equals the channel the batch arrived on (``MSG1002``/``RCP1002``).
* ``S1.environmentTag`` equals the environment we run in (``MSG1001``/``RCP1004``).
* ``S1.senderRoleID`` may send this interface per the catalogue (``MSG1010``/``RCP1010``).
  Interfaces whose catalogue row gives no sender role (REP-xxx, IF-051, IF-047) are not checked.
* MSG side: ``S1.DIPConnectionProviderID`` equals our DCP ID (``MSG1011``); the
  ``is_nominated(sender_dip_id, dcp_id)`` hook says whether the participant nominated us.
* ``is_known_dip_id(dip_id)`` hook: sender (``MSG1009``/``RCP1009``) and A0 recipients
  (``MSG1031/1033/1035``/``RCP1041``).
* Duplicate SUR in the batch, or per the ``is_duplicate_sur(sender_dip_id, sur)`` hook
  (``MSG1006``/``RCP1006``).
* Clock (when ``now`` is given): sender timestamp in the future (``MSG1007``/``RCP1008``), D0
  timestamp in the future (``RCP1045``), beyond ``max_future_skew``.
* D0: a sender should not set it (MSG side: warning); a delivery must carry it (``RCP1043``);
  ``publicationID`` should be ``PUB-nnn`` for IF-nnn (``RCP1042``; a warning, as the
  PUB mapping is observed, not specified).
* RCP side with ``recipient_dip_id``: we should appear in A0 (``RCP1041``, warning - inferred).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dip import codes
from dip.catalogue import Catalogue
from dip.codes import Side
from dip.envelope import Message
from dip.errors import Finding, Level, Severity
from dip.timeutil import parse_timestamp

if TYPE_CHECKING:
    from dip.validation import ValidationContext


def _f(
    ctx: ValidationContext,
    pair: tuple[str, str],
    m: Message,
    rel: str,
    msg: str,
    *,
    warn: bool = False,
) -> Finding:
    severity = Severity.WARNING if warn else Severity.ERROR
    path = f"$[{m.index}].payload.CommonBlock{rel}"
    return Finding(codes.pick(pair, ctx.side), severity, path, msg, Level.CONTEXT, m.index)


def check_context(
    m: Message, cat: Catalogue, ctx: ValidationContext, seen_surs: set[tuple[str, str]]
) -> list[Finding]:
    out: list[Finding] = []
    iid = m.interface_id or ""
    iface = cat.get(iid)
    if ctx.channel_interface_id is not None and iid != ctx.channel_interface_id:
        out.append(
            _f(
                ctx,
                codes.INTERFACE,
                m,
                ".S0.interfaceID",
                f"interfaceID {iid} does not match the channel {ctx.channel_interface_id}",
            )
        )
    env = m.environment
    if ctx.environment is not None and env != ctx.environment:
        out.append(
            _f(
                ctx,
                codes.ENVIRONMENT,
                m,
                ".S1.environmentTag",
                f"environmentTag {env!r} does not match this environment ({ctx.environment})",
            )
        )
    role = m.sender_role
    if iface is not None and iface.sender_roles and role not in iface.sender_roles:
        out.append(
            _f(
                ctx,
                codes.SENDER_ROLE,
                m,
                ".S1.senderRoleID",
                f"role {role!r} may not send {iid} (senders: {', '.join(iface.sender_roles)})",
            )
        )
    sender = m.sender_dip_id or ""
    dcp = m.dcp_id
    if ctx.side is Side.MSG and ctx.dcp_dip_id is not None and dcp != ctx.dcp_dip_id:
        out.append(
            _f(
                ctx,
                codes.DCP_ID,
                m,
                ".S1.DIPConnectionProviderID",
                f"DIPConnectionProviderID {dcp!r} must be this DCP's DIP ID {ctx.dcp_dip_id}",
            )
        )
    if ctx.is_nominated is not None and dcp is not None and not ctx.is_nominated(sender, dcp):
        out.append(
            _f(
                ctx,
                ("MSG1011", "RCP1009"),
                m,
                ".S1.DIPConnectionProviderID",
                f"{sender} has not nominated DCP {dcp}",
            )
        )
    if ctx.is_known_dip_id is not None and not ctx.is_known_dip_id(sender):
        out.append(
            _f(
                ctx,
                codes.SENDER_DIP_ID,
                m,
                ".S1.senderDIPID",
                f"sender DIP ID {sender!r} is not known",
            )
        )
    out.extend(_recipients(m, ctx))
    sur = m.sender_unique_reference or ""
    key = (sender, sur)
    if key in seen_surs or (ctx.is_duplicate_sur is not None and ctx.is_duplicate_sur(sender, sur)):
        out.append(
            _f(
                ctx,
                codes.SUR,
                m,
                ".S1.senderUniqueReference",
                f"senderUniqueReference {sur!r} is duplicated",
            )
        )
    seen_surs.add(key)
    out.extend(_d0_and_clock(m, ctx, iface.publication_id() if iface else None))
    return out


def _recipients(m: Message, ctx: ValidationContext) -> list[Finding]:
    out: list[Finding] = []
    a0 = m.common_dict.get("A0")
    lists = a0 if isinstance(a0, dict) else {}
    if ctx.is_known_dip_id is not None:
        for key, pair in (
            ("primaryRecipients", ("MSG1031", "RCP1041")),
            ("secondaryRecipients", ("MSG1033", "RCP1041")),
            ("always", ("MSG1035", "RCP1041")),
        ):
            for j, dip_id in enumerate(lists.get(key) or []):
                if dip_id is not None and not ctx.is_known_dip_id(dip_id):
                    out.append(
                        _f(
                            ctx,
                            pair,
                            m,
                            f".A0.{key}[{j}]",
                            f"recipient DIP ID {dip_id!r} is not known",
                        )
                    )
    if ctx.side is Side.RCP and ctx.recipient_dip_id is not None and isinstance(a0, dict):
        everyone = {r for v in lists.values() if isinstance(v, list) for r in v}
        if ctx.recipient_dip_id not in everyone:
            out.append(
                _f(
                    ctx,
                    codes.RECIPIENT,
                    m,
                    ".A0",
                    f"{ctx.recipient_dip_id} is not among the A0 recipients",
                    warn=True,
                )
            )
    return out


def _future(value: object, ctx: ValidationContext) -> bool:
    if ctx.now is None or not isinstance(value, str):
        return False
    try:
        return parse_timestamp(value) > ctx.now + ctx.max_future_skew
    except ValueError:
        return False


def _d0_and_clock(m: Message, ctx: ValidationContext, publication_id: str | None) -> list[Finding]:
    out: list[Finding] = []
    s1 = m.common_dict.get("S1") or {}
    if _future(s1.get("senderTimestamp"), ctx):
        out.append(
            _f(ctx, codes.FUTURE, m, ".S1.senderTimestamp", "senderTimestamp is in the future")
        )
    d0 = m.common_dict.get("D0")
    if ctx.side is Side.MSG:
        if d0 is not None:
            out.append(
                _f(
                    ctx,
                    codes.SCHEMA,
                    m,
                    ".D0",
                    "D0 is stamped by the DIP; senders omit it",
                    warn=True,
                )
            )
        return out
    if not isinstance(d0, dict):
        out.append(
            _f(
                ctx,
                ("MSG1001", "RCP1043"),
                m,
                ".D0",
                "D0 is missing: the DIP stamps every delivery",
            )
        )
        return out
    if _future(d0.get("transactionTimestamp"), ctx):
        out.append(
            _f(
                ctx,
                ("MSG1001", "RCP1045"),
                m,
                ".D0.transactionTimestamp",
                "DIP transaction timestamp is in the future",
            )
        )
    pub = d0.get("publicationID")
    if publication_id is not None and pub != publication_id:
        out.append(
            _f(
                ctx,
                ("MSG1001", "RCP1042"),
                m,
                ".D0.publicationID",
                f"publicationID {pub!r} is unexpected here (expected {publication_id})",
                warn=True,
            )
        )
    if ctx.expect_replay is not None and d0.get("replayIndicator") is not ctx.expect_replay:
        out.append(
            _f(
                ctx,
                ("MSG1001", "RCP1047"),
                m,
                ".D0.replayIndicator",
                f"replayIndicator should be {str(ctx.expect_replay).lower()} here",
            )
        )
    return out
