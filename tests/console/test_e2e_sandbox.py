"""Four-eyes edit-and-resend end to end with the real DIP sandbox: a message the recipient
rejects at L4 is edited (another MPAN, a new SUR) by one operator, approved by another, goes
through the normal outbound submission and the sender, and settles; the original is kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from console import services
from console.models import ResendRequest
from messaging.models import Message, MessageException
from messaging.states import State
from tenants.roles import ClientRole
from tests.factories import member
from tests.messaging.outbound.conftest import (  # noqa: F401 (fixtures)
    MPAN,
    MPAN_SLOW,
    Rig,
    dip_sandbox,
    rig,
    sandbox_url,
    status_receiver,
)
from tests.messaging.outbound.test_e2e import post, run_sender, states, wait_statuses
from tests.participants.conftest import dcp_admin, dcp_ready  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_edit_and_resend_with_four_eyes_through_the_sandbox(rig: Rig, host_client: Any):  # noqa: F811
    client = host_client(rig.tenant, rig.admin)
    item = rig.message(mpan=MPAN_SLOW)
    ids = [m["id"] for m in post(client, rig, [item]).json()["messages"]]
    run_sender(rig)
    wait_statuses(rig, ids)
    assert states(ids) == [State.REJECTED]
    original = Message.objects.get(public_id=ids[0])
    exc = MessageException.objects.get(message=original)

    editor = member(rig.tenant, ClientRole.CLIENT_OPERATOR)
    approver = member(rig.tenant, ClientRole.CLIENT_OPERATOR)
    # The fix: the right MPAN, and a new SUR (the DIP refuses a reused one).
    edited = json.loads(json.dumps(item).replace(MPAN_SLOW, MPAN))
    s1 = edited["payload"]["CommonBlock"]["S1"]
    s1["senderUniqueReference"] += "R1"

    req = services.request_resend(
        original=original, edited_item=edited, reason="wrong MPAN", user=editor
    )
    with pytest.raises(services.ConsoleRefused):
        services.decide_resend(request=req, user=editor, approve=True)
    done = services.decide_resend(request=req, user=approver, approve=True)
    assert done.status == ResendRequest.Status.SENT, done.outcome
    new_id = str(done.resent.public_id)
    assert states([new_id]) == [State.QUEUED]

    run_sender(rig)
    assert states([new_id]) == [State.ACCEPTED]
    wait_statuses(rig, [new_id])
    assert states([new_id]) == [State.SETTLED]
    original.refresh_from_db()
    assert original.state == State.REJECTED  # the original is kept as it was
    assert exc.pk and done.resent.mpan_core == MPAN
