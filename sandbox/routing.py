"""From accepted messages to callbacks: recipients, D0 stamping, persistence, fan-out.

Recipients (PROTOCOL.md §1.6, §1.13): ``A0.primaryRecipients`` as the sender gave them; the
DIP adds *secondary* recipients from the MPAN's appointed parties (registry ``mpans``) whose
role receives the interface (catalogue ``recipient_roles``), plus the ``M0.distributorDIPID``
when LDSOs receive it, and *always* recipients (registry DIP IDs flagged ``always``). The
sender never receives its own message. Nothing resolvable -> an L2 status ``MSG1037`` (no
MPAN) or ``MSG1038`` (MPAN/party/event combination) to the sender.

Each message is stamped once (``dip.envelope.stamp_d0``; every recipient gets the same
payload) and serialised once; per recipient, the messages of one batch travel as one callback
(chunked at the recipient's ``maxMessageCount``, default 100).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from dip.catalogue import Catalogue
from dip.envelope import Message, stamp_d0
from dip.timeutil import format_timestamp
from sandbox.delivery import PUBLICATION, Callback, DeliveryEngine
from sandbox.registry import Registry
from sandbox.statuses import StatusHub
from sandbox.store import Store

DEFAULT_CALLBACK_MESSAGES = 100


@dataclass
class Routed:
    message: Message
    transaction_id: str
    item: bytes  # stamped, serialised array element
    recipients: list[str]
    sender: str
    interface_id: str
    perturb: str | None = None


def new_transaction_id(m: Message, when: datetime) -> str:
    """``T-<IF>-<sender DIP ID>-<role>-<YYYYMMDD>-<16 hex>`` (PROTOCOL.md §2.9)."""
    return (
        f"T-{m.interface_id}-{m.sender_dip_id}-{m.sender_role}-{when:%Y%m%d}-"
        f"{os.urandom(8).hex().upper()}"
    )


class Router:
    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        engine: DeliveryEngine,
        statuses: StatusHub,
        callback_messages: int = DEFAULT_CALLBACK_MESSAGES,
    ) -> None:
        self.registry, self.store, self.engine, self.statuses = registry, store, engine, statuses
        self.callback_messages = callback_messages
        self.accepted = 0

    def resolve(self, m: Message, catalogue: Catalogue) -> tuple[list[str], list[str], list[str]]:
        iface = catalogue.get(m.interface_id or "")
        roles = iface.recipient_roles if iface else ()
        sender = m.sender_dip_id
        a0 = m.common_dict.get("A0")
        given = a0.get("primaryRecipients") if isinstance(a0, dict) else None
        primary = [r for r in given or [] if isinstance(r, str) and r != sender]
        taken = set(primary) | {sender}
        secondary: list[str] = []
        mpan = self.registry.mpans.get(m.mpan_core or "")
        candidates = (
            [dip for role, dip in mpan.appointments.items() if role in roles] if mpan else []
        )
        m0 = m.common_dict.get("M0")
        if (
            "LDSO" in roles
            and isinstance(m0, dict)
            and self.registry.is_known(m0.get("distributorDIPID") or "")
        ):
            candidates.append(m0["distributorDIPID"])
        for dip in candidates:
            if dip not in taken:
                secondary.append(dip)
                taken.add(dip)
        always = [d for d in self.registry.always_recipients(roles) if d not in taken]
        return primary, secondary, always

    def route(
        self,
        messages: list[Message],
        transaction_ids: list[str],
        catalogue: Catalogue,
        *,
        origin: str = "send",
        now: datetime | None = None,
        replay: bool = False,
        perturb: dict[int, str] | None = None,
    ) -> list[Routed]:
        """Stamp, store and plan delivery of accepted messages; :meth:`dispatch` after commit."""
        now = now or datetime.now(UTC)
        stamp = format_timestamp(now)
        received = time.time()
        routed: list[Routed] = []
        message_rows = []
        delivery_rows: list[tuple[str, str, str, str, float]] = []
        for i, (m, txn) in enumerate(zip(messages, transaction_ids, strict=True)):
            primary, secondary, always = self.resolve(m, catalogue)
            iface = catalogue.get(m.interface_id or "")
            stamped = stamp_d0(
                m,
                transaction_id=txn,
                transaction_timestamp=stamp,
                publication_id=iface.publication_id() if iface else "PUB-000",
                initial_correlation_id=m.correlation_id or f"CI-{now:%Y%m%d}-{txn[-16:]}",
                replay_indicator=replay,
                secondary_recipients=secondary,
                always=always,
            )
            item = orjson.dumps(stamped)
            recipients = [*primary, *secondary, *always]
            sender = m.sender_dip_id or ""
            iid = m.interface_id or ""
            message_rows.append(
                (
                    txn,
                    iid,
                    m.event_code,
                    m.schema_version,
                    sender,
                    m.sender_unique_reference or "",
                    m.dcp_id,
                    m.mpan_core,
                    m.correlation_id,
                    stamp,
                    received,
                    origin,
                    item,
                )
            )
            delivery_rows.extend((txn, r, iid, "Pending", received) for r in recipients)
            if not recipients:
                code = "MSG1037" if not m.mpan_core else "MSG1038"
                detail = (
                    "no MPAN to resolve secondary recipients from"
                    if code == "MSG1037"
                    else f"no recipient resolved for MPAN {m.mpan_core} and {iid}"
                )
                self.statuses.l2(Message(stamped), txn, code, detail)
            routed.append(Routed(m, txn, item, recipients, sender, iid, (perturb or {}).get(i)))
        self.store.write_many(
            "INSERT OR IGNORE INTO messages (transaction_id, interface_id, event_code,"
            " schema_version, sender_dip_id, sender_unique_reference, dcp_dip_id, mpan_core,"
            " correlation_id, transaction_timestamp, received_at, origin, item)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            message_rows,
        )
        self.store.write_many(
            "INSERT OR REPLACE INTO deliveries (transaction_id, recipient_dip_id, interface_id,"
            " status, updated_at) VALUES (?,?,?,?,?)",
            delivery_rows,
        )
        self.accepted += len(routed)
        return routed

    def dispatch(self, routed: list[Routed]) -> int:
        """Group routed messages into callbacks per (recipient, interface, perturbation)."""
        groups: dict[tuple[str, str, str | None], list[Routed]] = {}
        for r in routed:
            for recipient in r.recipients:
                groups.setdefault((recipient, r.interface_id, r.perturb), []).append(r)
        n = 0
        for (recipient, iid, perturb), rs in groups.items():
            entry = self.registry.get(recipient)
            size = (entry.webhook_limits.get(iid) if entry else None) or self.callback_messages
            for start in range(0, len(rs), size):
                chunk = rs[start : start + size]
                self.engine.submit(
                    Callback(
                        kind=PUBLICATION,
                        recipient=recipient,
                        interface_id=iid,
                        items=[r.item for r in chunk],
                        transaction_ids=[r.transaction_id for r in chunk],
                        senders=[r.sender for r in chunk],
                        perturb=perturb,
                    )
                )
                n += 1
        return n
