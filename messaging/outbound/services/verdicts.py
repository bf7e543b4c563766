"""What one Send API answer means for each message of the batch, decided by HTTP status and
response codes only — never by the answer's free text (PROTOCOL.md §3.3, §5.2a; the table is in
docs/outbound.md, "Outcomes").

L1 is all-or-nothing: a 400 rejects the whole batch and each item carries a code. Only the
items with an *item-specific* code failed; the others carry the generic ``MSG1000`` (or
``MSG0000``: "fine, but the batch failed") and are sent again at once without the failing items.
``MSG1006`` (duplicate senderUniqueReference) is "accepted already" for a message the DIP may
hold from an attempt whose answer we never got, and a genuine duplicate otherwise. A batch
refused with nothing but generic codes names no culprit: its messages are isolated (each sent
alone) and one refused alone keeps being retried with back-off up to a limit. A code we do not
know is never guessed at: the message is held for an operator with an exception
(``held.release_held`` sends it again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from dip.client import ReplyItem
from dip.codes import CODES

GENERIC = frozenset({"MSG0000", "MSG1000"})
DUPLICATE_SUR = "MSG1006"


class Verdict(StrEnum):
    ACCEPTED = "accepted"  # MSG1006 after an attempt whose answer was lost
    REJECTED = "rejected"  # an item-specific code: final, with an exception
    DUPLICATE = "duplicate"  # MSG1006 for a message the DIP cannot hold from us
    REQUEUE = "requeue"  # generic: failed because another item did; sent again at once
    ISOLATE = "isolate"  # the batch was refused with generic codes only: send it alone
    RETRY = "retry"  # refused alone with a generic code: back-off, rejected past the limit
    HOLD = "hold"  # an unknown code: kept, exception, an operator decides


@dataclass(frozen=True)
class ItemVerdict:
    verdict: Verdict
    code: str  # the item's code, or "HTTP <status>" when the answer had none
    text: str  # the DIP's text and help, for the exception (never decided upon)


@dataclass(frozen=True)
class Sent:
    """What we know about one message of the batch."""

    sender_unique_reference: str
    maybe_at_dip: bool  # an earlier attempt carrying it ended without an answer


def match_items(sent: Sequence[Sent], items: Sequence[ReplyItem]) -> list[ReplyItem | None]:
    """The answer's item for each message: by senderUniqueReference, else by position when the
    answer has exactly one item per message."""
    by_sur = {i.sender_unique_reference: i for i in items if i.sender_unique_reference}
    positional = len(items) == len(sent)
    return [
        by_sur.get(s.sender_unique_reference) or (items[n] if positional else None)
        for n, s in enumerate(sent)
    ]


def classify(
    sent: Sequence[Sent], items: Sequence[ReplyItem], *, status: int, resend: bool = False
) -> list[ItemVerdict]:
    """Per message of a batch the DIP refused with ``status`` (a 400, or any non-retryable
    refusal that carried a StandardResponse).

    ``resend``: the batch is exactly one sent before whose answer never came (same
    composition, same bytes). Had the DIP accepted it then, it would hold *every* item now
    (L1 is all-or-nothing) and answer ``MSG1006`` for each; so unless every item is
    ``MSG1006``, the earlier attempt was refused too and a ``MSG1006`` is a genuine duplicate.
    """
    matched = match_items(sent, items)
    all_known = all(i is not None and i.code == DUPLICATE_SUR for i in matched)
    out: list[ItemVerdict | None] = []
    for s, item in zip(sent, matched, strict=True):
        code = (item.code if item else None) or ""
        text = " ".join(t for t in ((item.message, item.help) if item else ()) if t)[:480]
        if not code or code in GENERIC:
            out.append(None)  # decided below, once we know whether any item failed on its own
        elif code == DUPLICATE_SUR:
            ours = s.maybe_at_dip and (all_known or not resend)
            verdict = Verdict.ACCEPTED if ours else Verdict.DUPLICATE
            out.append(ItemVerdict(verdict, code, text))
        elif code.startswith("MSG") and code in CODES:
            out.append(ItemVerdict(Verdict.REJECTED, code, text))
        else:
            out.append(ItemVerdict(Verdict.HOLD, code, text))
    culprit = any(v is not None for v in out)
    generic = Verdict.REQUEUE if culprit else (Verdict.ISOLATE if len(sent) > 1 else Verdict.RETRY)
    final: list[ItemVerdict] = []
    for v, item in zip(out, matched, strict=True):
        if v is not None:
            final.append(v)
            continue
        code = (item.code if item else None) or f"HTTP {status}"
        text = " ".join(t for t in ((item.message, item.help) if item else ()) if t)[:480]
        final.append(ItemVerdict(generic, code, text))
    return final
