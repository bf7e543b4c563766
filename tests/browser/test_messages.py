"""Message pages in the browser: the list of both directions, an outbound message settled at
the DIP with its timeline, one rejected with an exception, and the client endpoints page."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tenants.roles import ClientRole, StaffRole
from tests.browser.conftest import committed, screenshot, sign_in
from tests.browser.test_onboarding import fresh_tenant

pytestmark = pytest.mark.browser

DIP_ID, PEER, DCP_ID = "1409012345", "1500000001", "2600000002"


def seed_messages(slug: str) -> dict[str, str]:
    """Two inbound and three outbound messages (settled, rejected with an exception, queued);
    returns their public ids by name."""
    from django_tenants.utils import tenant_context

    from messaging import services
    from messaging.models import ExceptionCategory
    from messaging.states import Direction, State
    from tenants.models import Tenant

    def new(direction: str, interface: str, event: str, mpan: str, n: int) -> Any:
        body = f'{{"payload": {{"mpan": "{mpan}", "n": {n}}}}}'.encode()
        sur = uuid.uuid4().hex[:24].upper()
        return services.create_messages(
            [
                services.NewMessage(
                    direction=direction,
                    environment="UIT",
                    interface_id=interface,
                    event_code=event,
                    schema_version="1.0",
                    dip_id=DIP_ID,
                    counterparty_dip_id=PEER,
                    dcp_id=DCP_ID,
                    mpan_core=mpan,
                    sender_unique_reference=sur,
                    transaction_id=f"TX-{sur[:12]}",
                    raw=services.store_raw(body),
                )
            ],
            actor="browser-test",
        )[0]

    def walk(message: Any, *states: str, reason: str = "") -> None:
        for state in states:
            assert services.transition(message, state, actor="outbound", reason=reason)

    with tenant_context(Tenant.objects.get(slug=slug)):
        inbound = new(Direction.INBOUND, "IF-002", "EV-002", "1200000000011", 1)
        walk(inbound, State.VALIDATED, State.DELIVERED)
        new(Direction.INBOUND, "IF-021", "EV-021", "1200000000022", 2)
        settled = new(Direction.OUTBOUND, "IF-004", "EV-004", "1200000000033", 3)
        walk(settled, State.VALIDATED, State.QUEUED, State.SENT)
        walk(settled, State.ACCEPTED, reason="L3 acknowledgement: 202 Accepted")
        walk(settled, State.SETTLED, reason="L4 status: MSG0000 processed")
        rejected = new(Direction.OUTBOUND, "IF-004", "EV-004", "1200000000044", 4)
        walk(rejected, State.VALIDATED, State.QUEUED, State.SENT)
        walk(rejected, State.REJECTED, reason="MSG0102 schema validation failed")
        services.open_exception(
            rejected,
            category=ExceptionCategory.REJECTED_BY_DIP,
            code="MSG0102",
            summary="The DIP rejected the payload: schema validation failed",
        )
        queued = new(Direction.OUTBOUND, "IF-007", "EV-007", "1200000000055", 5)
        walk(queued, State.VALIDATED, State.QUEUED)
        return {
            "settled": str(settled.public_id),
            "rejected": str(rejected.public_id),
            "inbound": str(inbound.public_id),
        }


def test_message_list_detail_and_endpoints(new_page: Any, server: Any, make_person: Any) -> None:
    staff = make_person("msg-staff", staff_role=StaffRole.DCP_ADMIN, mfa=True)
    slug, _ = fresh_tenant("msg", staff)
    admin = make_person("msg-admin", tenant_slug=slug, role=ClientRole.CLIENT_ADMIN)
    ids = committed(lambda: seed_messages(slug))

    page = new_page()
    sign_in(page, server, admin, slug)
    page.goto(server.url("/messages/", slug))
    listing = page.get_by_test_id("message-list")
    expect(listing.locator("tbody tr")).to_have_count(5)
    expect(page.get_by_test_id(f"message-{ids['settled']}")).to_contain_text("Settled (L4)")
    expect(page.get_by_test_id(f"message-{ids['rejected']}")).to_contain_text("Rejected")
    expect(page.get_by_test_id(f"message-{ids['inbound']}")).to_contain_text("Delivered")
    screenshot(page, "messages-list")

    page.get_by_label("Direction").select_option("inbound")
    page.get_by_role("button", name="Filter").click()
    expect(listing.locator("tbody tr")).to_have_count(2)

    page.goto(server.url(f"/messages/{ids['rejected']}/", slug))
    expect(page.get_by_test_id("exceptions")).to_contain_text("MSG0102")

    page.goto(server.url("/messages/", slug))
    page.get_by_test_id(f"message-{ids['settled']}").get_by_role("link").click()
    envelope = page.get_by_test_id("envelope")
    expect(envelope).to_contain_text("Outbound")
    expect(envelope).to_contain_text(f"{DIP_ID} ⇄ {PEER}")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("li")).to_have_count(6)
    expect(timeline).to_contain_text("accepted → settled")
    expect(timeline).to_contain_text("MSG0000 processed")
    # Each label sits on the same line as its value.
    label = envelope.get_by_text("DCP ID", exact=True).bounding_box()
    value = envelope.get_by_text(DCP_ID, exact=True).bounding_box()
    assert label and value and abs(label["y"] - value["y"]) < 4 and label["x"] < value["x"]
    screenshot(page, "message-detail")

    page.goto(server.url("/messages/endpoints/", slug))
    expect(page.get_by_test_id("endpoint-list")).to_contain_text("No endpoints")
    create = page.get_by_test_id("endpoint-create")
    create.get_by_label("Name").fill("ERP integration")
    create.get_by_label("URL").fill("https://erp.example.com/hooks/dip")
    create.get_by_label("Interfaces").fill("IF-002, IF-004")
    create.get_by_label("Inbound messages").check()
    create.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_test_id("endpoint-secret")).to_be_visible()
    row = page.get_by_test_id("endpoint-list").get_by_role("row").filter(has_text="ERP integration")
    expect(row).to_contain_text("IF-002, IF-004")
    expect(row).to_contain_text("Active")
    screenshot(page, "client-endpoints")
    page.goto(server.url("/messages/endpoints/", slug))
    expect(page.get_by_test_id("endpoint-secret")).to_have_count(0)
