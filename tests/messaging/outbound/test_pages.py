"""Message list and detail pages."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.roles import ClientRole
from tests.factories import member
from tests.messaging.outbound.conftest import Rig
from tests.messaging.outbound.test_e2e import post, run_sender

pytestmark = pytest.mark.django_db


def test_list_filters_and_detail(rig: Rig, host_client: Any):
    ids = [
        m["id"]
        for m in post(host_client(rig.tenant, rig.admin), rig, [rig.message()]).json()["messages"]
    ]
    run_sender(rig)
    viewer = host_client(rig.tenant, member(rig.tenant, ClientRole.CLIENT_VIEWER))
    page = viewer.get("/messages/", {"direction": "outbound", "state": "accepted"})
    assert page.status_code == 200 and ids[0] in page.content.decode()
    assert ids[0] not in viewer.get("/messages/", {"state": "rejected"}).content.decode()
    detail = viewer.get(f"/messages/{ids[0]}/").content.decode()
    for part in ('data-testid="timeline"', 'data-testid="attempts"', "senderUniqueReference"):
        assert part in detail
    assert "queued → sent" in detail.replace("&gt;", ">").replace("&rarr;", "→")
