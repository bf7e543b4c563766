"""The status-message webhook settles the outbound messages it names (PROTOCOL.md §4.5)."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from django_tenants.utils import tenant_context

from messaging import services
from messaging.models import Message
from messaging.states import Direction, State
from tests.messaging.inbound.conftest import Env, committed
from tests.messaging.inbound.test_webhook import post, synced  # noqa: F401 (fixture)
from tests.sandbox.helpers import ACME

pytestmark = pytest.mark.django_db


def _accepted_outbound(env: Env, sur: str) -> int:
    def make() -> int:
        with tenant_context(env.tenant):
            raw = services.store_raw(f'{{"sur": "{sur}"}}'.encode())
            (m,) = services.create_messages(
                [
                    services.NewMessage(
                        direction=Direction.OUTBOUND,
                        environment="UIT",
                        interface_id="IF-025",
                        dip_id=ACME,
                        raw=raw,
                        sender_unique_reference=sur,
                    )
                ],
                actor="test",
            )
            for state in (State.VALIDATED, State.QUEUED, State.SENT, State.ACCEPTED):
                services.transition(m, state, actor="test")
            return m.pk

    return committed(make)


def _status(sur: str, message: str) -> bytes:
    return orjson.dumps(
        [
            {
                "transactionID": None,
                "senderUniqueReference": sur,
                "correlationID": None,
                "sentTimestamp": "2026-11-23T12:00:00+00:00",
                "senderID": "2209010001",
                "recipientID": ACME,
                "DIPConnectionProviderID": None,
                "message": message,
                "help": None,
                "serviceTicketURL": None,
            }
        ]
    )


def _state(env: Env, pk: int) -> str:
    def q() -> str:
        with tenant_context(env.tenant):
            return Message.objects.get(pk=pk).state

    return committed(q)


def test_l4_success_status_settles_the_message(synced: Any) -> None:  # noqa: F811
    sur = f"S-IF-025-{ACME}-SUP-20261123-st{random.getrandbits(40):x}"
    pk = _accepted_outbound(synced, sur)
    reply = post(synced, _status(sur, "RCP0000 - Message Success"), token=synced.status_token)
    assert reply.status_code == 201, reply.text
    assert reply.json()["messageArray"][0]["senderUniqueReference"] == sur
    assert _state(synced, pk) == State.SETTLED


def test_l4_failure_status_rejects_the_message(synced: Any) -> None:  # noqa: F811
    sur = f"S-IF-025-{ACME}-SUP-20261123-st{random.getrandbits(40):x}"
    pk = _accepted_outbound(synced, sur)
    reply = post(synced, _status(sur, "RCP1061 - MPAN invalid"), token=synced.status_token)
    assert reply.status_code == 201
    assert _state(synced, pk) == State.REJECTED


def test_a_body_that_is_not_a_status_array_is_400(synced: Any) -> None:  # noqa: F811
    reply = post(synced, b'[{"payload": {}}]', token=synced.status_token)
    assert reply.status_code == 400
    assert reply.json()["messageArray"][0]["message"].startswith("RCP1001")


def test_a_negative_status_after_a_quiet_settlement_still_rejects(synced: Any) -> None:  # noqa: F811
    """Silence settled it ("no issue reported"); a negative status arriving through the signed
    status webhook afterwards still rejects it, with an exception (docs/outbound.md)."""
    from messaging.models import MessageException

    sur = f"S-IF-025-{ACME}-SUP-20261123-st{random.getrandbits(40):x}"
    pk = _accepted_outbound(synced, sur)

    def settle_quietly() -> None:
        with tenant_context(synced.tenant):
            m = Message.objects.get(pk=pk)
            services.transition(m, State.SETTLED, actor="test", reason="no issue reported")

    committed(settle_quietly)
    reply = post(synced, _status(sur, "RCP1022 - bad value"), token=synced.status_token)
    assert reply.status_code == 201
    assert _state(synced, pk) == State.REJECTED

    def exception() -> tuple[str, str]:
        with tenant_context(synced.tenant):
            e = MessageException.objects.get(message_id=pk)
            return e.category, e.code

    assert committed(exception) == ("rejected_by_recipient", "RCP1022")
