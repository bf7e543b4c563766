"""Reading and verifying the audit chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from audit.services import compute_hash, row_fields


@dataclass
class ChainReport:
    schema: str
    count: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(schema: str, *, max_problems: int = 50) -> ChainReport:
    """Verify the chain of the current schema: every row's hash recomputes, links to its
    predecessor, sequence numbers are contiguous from 1, and the head matches the last row.
    Detects edited, deleted (anywhere, including the tail), inserted and reordered rows."""
    report = ChainReport(schema=schema)
    expected_seq, prev_hash = 1, GENESIS_HASH
    rows = AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)
    for event in rows:
        report.count += 1
        if event.seq != expected_seq:
            report.problems.append(
                f"seq {event.seq}: expected seq {expected_seq} (rows missing or reordered)"
            )
        if event.prev_hash != prev_hash:
            report.problems.append(f"seq {event.seq}: prev_hash does not match the previous row")
        recomputed = compute_hash(row_fields(event))
        if recomputed != event.hash:
            report.problems.append(f"seq {event.seq}: content does not match its hash (edited)")
        expected_seq, prev_hash = event.seq + 1, event.hash
        if len(report.problems) >= max_problems:
            report.problems.append("too many problems; stopped")
            return report
    head = AuditChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        report.problems.append(
            f"chain head says seq {head_seq} but the last row is seq {expected_seq - 1} "
            "(rows deleted from the end, or head altered)"
        )
    return report
