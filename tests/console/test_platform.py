"""DCP staff console: every client's health on one page, an audited drill-in, 403 for others."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from messaging import services as core
from messaging.models import ExceptionCategory
from messaging.states import Direction, State
from tenants.roles import ClientRole, StaffRole
from tests.factories import member, staff

pytestmark = pytest.mark.django_db


def test_staff_see_every_client_and_drill_in_is_audited(tenant_a, tenant_b, host_client):
    with tenant_context(tenant_a):
        raw = core.store_raw(b"{}")
        (m,) = core.create_messages(
            [
                core.NewMessage(
                    direction=Direction.INBOUND,
                    environment="UIT",
                    interface_id="IF-021",
                    dip_id="2309010001",
                    raw=raw,
                )
            ],
            actor="test",
        )
        core.transition(m, State.REJECTED, actor="test")
        core.open_exception(m, category=ExceptionCategory.SCHEMA, summary="bad", code="MSG0100")
    operator = staff(StaffRole.DCP_OPERATOR)
    client = host_client(None, operator)
    page = client.get("/console/")
    assert page.status_code == 200
    assert b"health-alpha" in page.content and b"health-beta" in page.content
    detail = client.get("/console/alpha/")
    assert detail.status_code == 200 and b"MSG0100" in detail.content
    event = AuditEvent.objects.filter(action="console.staff.drill_in").get()
    assert event.actor_email == operator.email and event.actor_kind == "staff"


def test_client_users_cannot_open_the_staff_console(tenant_a, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    assert host_client(None, admin).get("/console/alpha/").status_code == 403
