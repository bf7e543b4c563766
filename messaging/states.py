"""The message state machine: every state, and which moves are allowed, per direction.

Outbound: received → validated → queued → sent → accepted (the DIP took it) → settled, or
rejected (the DIP or a recipient said no), failed (we gave up: no key, the DIP refused it for
good). Settled has two reasons (``OutboxEntry.status_outcome``): a positive status, or silence
past the interface's status window ("no issue reported": recipients send statuses only when
there is an issue, seed 003 §3.1). A negative status rejects the message whenever it arrives,
also after it settled by silence. A message that is retried goes back from sent to queued.
``expired`` is no longer entered (the L4 timer used to end there); old rows may still hold it.

Inbound: received (raw stored, acknowledged) → validated (L4 passed) or rejected (L4 failed)
→ delivered (the client's system has it; pull-feed clients count as delivered when read).
"""

from __future__ import annotations

from django.db import models


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class State(models.TextChoices):
    RECEIVED = "received", "Received"
    VALIDATED = "validated", "Validated"
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted (L3)"
    SETTLED = "settled", "Settled (L4)"
    DELIVERED = "delivered", "Delivered to client"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


S = State
OUTBOUND_MOVES: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.VALIDATED, S.REJECTED, S.FAILED}),
    S.VALIDATED: frozenset({S.QUEUED, S.REJECTED, S.FAILED}),
    S.QUEUED: frozenset({S.SENT, S.REJECTED, S.FAILED, S.EXPIRED}),
    S.SENT: frozenset({S.QUEUED, S.ACCEPTED, S.SETTLED, S.REJECTED, S.FAILED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.SETTLED, S.REJECTED, S.EXPIRED}),
    S.EXPIRED: frozenset({S.ACCEPTED, S.SETTLED, S.REJECTED, S.QUEUED}),  # late status, requeue
    S.FAILED: frozenset({S.QUEUED}),  # operator requeue
    S.REJECTED: frozenset({S.QUEUED}),  # operator edit-and-resend / requeue
    S.SETTLED: frozenset({S.REJECTED}),  # a late negative status (at any time)
}
INBOUND_MOVES: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.VALIDATED, S.REJECTED}),
    S.VALIDATED: frozenset({S.DELIVERED}),
    S.REJECTED: frozenset({S.DELIVERED, S.VALIDATED}),  # rejected ones still reach the client
    S.DELIVERED: frozenset(),
}
MOVES = {Direction.OUTBOUND: OUTBOUND_MOVES, Direction.INBOUND: INBOUND_MOVES}

FINAL_STATES = {
    Direction.OUTBOUND: frozenset({S.SETTLED, S.REJECTED, S.FAILED}),
    Direction.INBOUND: frozenset({S.DELIVERED}),
}
SUCCESS_STATES = frozenset({S.ACCEPTED, S.SETTLED, S.VALIDATED, S.DELIVERED})
FAILURE_STATES = frozenset({S.REJECTED, S.FAILED, S.EXPIRED})


def can_move(direction: str, from_state: str, to_state: str) -> bool:
    return to_state in MOVES[Direction(direction)].get(from_state, frozenset())
