"""The per-item classification of a refused batch (pure; no database)."""

from __future__ import annotations

from dip.client import ReplyItem
from messaging.outbound.services.verdicts import Sent, Verdict, classify


def item(sur: str, message: str | None) -> ReplyItem:
    return ReplyItem(None, sur, None, None, "DIP", None, None, message)


def verdicts(
    answer: dict[str, str | None], maybe: frozenset[str] = frozenset(), resend: bool = False
) -> list[Verdict]:
    sent = [Sent(sur, sur in maybe) for sur in answer]
    items = [item(sur, msg) for sur, msg in answer.items()]
    return [v.verdict for v in classify(sent, items, status=400, resend=resend)]


def test_the_culprit_is_rejected_the_others_requeued_whatever_the_words() -> None:
    got = verdicts({"a": "MSG1007 ref 1", "b": "MSG1000 whatever", "c": "MSG0000 fine"})
    assert got == [Verdict.REJECTED, Verdict.REQUEUE, Verdict.REQUEUE]


def test_msg1006_is_accepted_only_for_a_message_the_dip_may_hold() -> None:
    got = verdicts({"a": "MSG1006", "b": "MSG1006 x", "c": "MSG1000"}, maybe=frozenset({"a"}))
    assert got == [Verdict.ACCEPTED, Verdict.DUPLICATE, Verdict.REQUEUE]


def test_a_resend_of_the_same_batch_is_accepted_only_if_every_item_is_held() -> None:
    held = {"a": "MSG1006", "b": "MSG1006"}
    assert verdicts(held, maybe=frozenset({"a", "b"}), resend=True) == [Verdict.ACCEPTED] * 2
    partly = {"a": "MSG1006", "b": "MSG1000"}
    # Had the first attempt been accepted, b would be held too: a is a genuine duplicate.
    assert verdicts(partly, maybe=frozenset({"a", "b"}), resend=True) == [
        Verdict.DUPLICATE,
        Verdict.REQUEUE,
    ]


def test_generic_only_isolates_a_batch_and_retries_a_single_message() -> None:
    assert verdicts({"a": "MSG1000", "b": None}) == [Verdict.ISOLATE, Verdict.ISOLATE]
    assert verdicts({"a": "MSG1000 - Batch rejected"}) == [Verdict.RETRY]


def test_unknown_codes_are_held_never_guessed() -> None:
    assert verdicts({"a": "MSG9999 new", "b": "MSG1000"}) == [Verdict.HOLD, Verdict.REQUEUE]
    assert verdicts({"a": "ZZZ1234 odd"}) == [Verdict.HOLD]


def test_items_matched_by_reference_else_by_position() -> None:
    sent = [Sent("a", False), Sent("b", False)]
    by_position = [item("", "MSG1000"), item("", "MSG1001")]
    got = [v.verdict for v in classify(sent, by_position, status=400)]
    assert got == [Verdict.REQUEUE, Verdict.REJECTED]
    reversed_ = [item("b", "MSG1001"), item("a", "MSG1000")]
    got = [v.verdict for v in classify(sent, reversed_, status=400)]
    assert got == [Verdict.REQUEUE, Verdict.REJECTED]
