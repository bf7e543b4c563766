"""The onboarding journey (docs/onboarding.md) in the browser: staff get our DCP status and DCP
IDs ready, a client admin of a fresh tenant adds an MPID + roles and DIP IDs, staff approve the
request on the board, the client nominates the DCP ID, generates and rotates API keys (shown
once), adds a channel, completes the checklist and proposes promotion, which staff apply."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tenants.roles import ClientRole, StaffRole
from tests.browser.conftest import (
    RUN_ID,
    Person,
    committed,
    screenshot,
    sign_in,
    totp_code,
)

pytestmark = pytest.mark.browser


def _approve_proposed_promotion(slug: str, email: str) -> None:
    from django_tenants.utils import tenant_context

    from participants.models import PromotionChangeSet
    from participants.services import promotion
    from tenants.models import Tenant, User

    with tenant_context(Tenant.objects.get(slug=slug)):
        change_set = PromotionChangeSet.objects.get(status=PromotionChangeSet.Status.PROPOSED)
        promotion.approve_promotion(change_set=change_set, actor=User.objects.get(email=email))


def staff_sign_in(page: Any, server: Any, staff: Person) -> None:
    sign_in(page, server, staff)
    page.get_by_label("Code").fill(totp_code(staff.totp_secret or ""))
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_test_id("console-name")).to_be_visible()


def fresh_tenant(label: str, staff: Person) -> tuple[str, str]:
    """A new client tenant (schema and all), created by ``staff``; returns (slug, name)."""
    slug = f"{label}-{RUN_ID}-{uuid.uuid4().hex[:4]}"
    name = f"{label.title()} Power {slug[-4:]}"

    def create() -> None:
        from tenants import services
        from tenants.models import User

        services.create_tenant(name=name, slug=slug, actor=User.objects.get(email=staff.email))

    committed(create)
    return slug, name


@pytest.fixture
def dcp_status_restored() -> Iterator[None]:
    """Our DCP status is one row per environment in the public schema: whatever this test
    requests and approves is removed afterwards, so tests that request it themselves (the
    REST journey) still can in a full-suite session."""

    def existing() -> set[str]:
        from dcpregistry.models import DcpStatus

        return set(DcpStatus.objects.values_list("environment", flat=True))

    before = committed(existing)
    yield

    def restore() -> None:
        from dcpregistry.models import DcpStatus

        DcpStatus.objects.exclude(environment__in=before).delete()

    committed(restore)


def test_onboarding_journey(
    new_page: Any, server: Any, make_person: Any, dcp_status_restored: None
) -> None:
    staff = make_person("ob-staff", staff_role=StaffRole.DCP_ADMIN, mfa=True, full_name="Oona Ops")
    slug, name = fresh_tenant("onb", staff)
    admin = make_person("ob-admin", tenant_slug=slug, role=ClientRole.CLIENT_ADMIN)
    note = f"browser {RUN_ID} {uuid.uuid4().hex[:6]}"

    # 1. Staff: our DCP status in both environments, one DCP ID in each.
    desk = new_page()
    staff_sign_in(desk, server, staff)
    desk.goto(server.url("/onboarding/dcp-ids/"))
    for env in ("UIT", "PRD"):
        panel = desk.get_by_test_id(f"dcp-status-{env}")
        if panel.get_by_role("button", name="Request DCP status").count():
            panel.get_by_role("button", name="Request DCP status").click()
            expect(desk.get_by_text(f"DCP status requested in {env}.")).to_be_visible()
            desk.get_by_test_id(f"dcp-status-{env}").get_by_role(
                "button", name="Record approval"
            ).click()
            expect(desk.get_by_text("Decision recorded.")).to_be_visible()
        expect(desk.get_by_test_id(f"dcp-status-{env}")).to_contain_text("Active")
        form = desk.get_by_test_id("dcp-id-form")
        form.get_by_label("Environment").select_option(env)
        form.get_by_label("Note").fill(note)
        form.get_by_role("button", name="Create").click()
        expect(desk.get_by_text("DCP ID(s) created.")).to_be_visible()

    def dcp_uit() -> str:
        from dcpregistry.models import DcpId

        return DcpId.objects.get(note=note, environment="UIT").value

    dcp_id = committed(dcp_uit)
    expect(desk.get_by_test_id("dcp-id-list")).to_contain_text(dcp_id)

    # 2. Client admin: MPID + roles, a Supplier DIP ID (active at once), an MDR one (requested).
    page = new_page()
    sign_in(page, server, admin, slug)
    page.goto(server.url("/setup/", slug))
    mpid_form = page.get_by_test_id("mpid-form")
    for role in ("SUP", "MDR"):
        mpid_form.get_by_label("MPID", exact=True).fill("GAMA")
        mpid_form.get_by_label("DIP role").select_option(role)
        mpid_form.get_by_role("button", name="Add MPID / role").click()
        expect(page.get_by_text("MPID / role added.")).to_be_visible()
    roles = page.get_by_test_id("mpid-roles")
    expect(roles.get_by_role("row", name=re.compile(r"GAMA .*Supplier.* yes"))).to_have_count(1)

    dip_ids: dict[str, str] = {}
    for role in ("SUP", "MDR"):
        page.goto(server.url("/setup/", slug))
        form = page.get_by_test_id("dip-id-form")
        form.get_by_label("MPID / role").select_option(label=f"GAMA/{role}")
        form.get_by_label("Environment").select_option("UIT")
        form.get_by_role("button", name="Create / request").click()
        expect(page.get_by_text("DIP ID created (or requested).")).to_be_visible()
        dip_ids[role] = page.url
    page.goto(dip_ids["MDR"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("(pending)")
    expect(page.locator(".page-header")).to_contain_text("Requested")
    page.goto(dip_ids["SUP"])
    expect(page.locator(".page-header")).to_contain_text("Active")
    sup_value = page.get_by_role("heading", level=1).locator("code").inner_text()

    # 3. Staff approve the MDR request on the onboarding board.
    desk.goto(server.url("/onboarding/"))
    expect(desk.get_by_test_id("board")).to_contain_text(name)
    request_row = desk.get_by_test_id("requests").get_by_role("row").filter(has_text=name)
    expect(request_row).to_contain_text("GAMA/MDR")
    screenshot(desk, "onboarding-board")
    request_row.get_by_role("button", name="Approve").click()
    expect(desk.get_by_text("DIP ID approved.")).to_be_visible()
    expect(desk.get_by_test_id("requests").get_by_role("row").filter(has_text=name)).to_have_count(
        0
    )
    page.goto(dip_ids["MDR"])
    expect(page.locator(".page-header")).to_contain_text("Active")

    # 4. Nominate our DCP ID, whitelisting our domains.
    page.goto(dip_ids["SUP"])
    nominate = page.get_by_test_id("nominate-form")
    nominate.get_by_label("DCP ID we shared with you").fill(dcp_id)
    nominate.get_by_label("Whitelist DCP's domains").check()
    nominate.get_by_role("button", name="Nominate DCP").click()
    expect(page.get_by_text("DCP nominated.")).to_be_visible()
    nominated = page.get_by_test_id("nominations").get_by_role("row").filter(has_text=dcp_id)
    expect(nominated).to_contain_text("yes")
    expect(nominated).to_contain_text("Active")

    # 5. API keys: shown once, then only fingerprints; rotate the secondary and swap.
    page.get_by_role("button", name="Generate keys").click()
    expect(page.get_by_role("heading", name="Copy your API keys now")).to_be_visible()
    issued = page.get_by_test_id("issued-keys")
    expect(issued.get_by_role("row")).to_have_count(3)
    secrets = [c.inner_text() for c in issued.locator("tbody tr td:nth-child(2) code").all()]
    assert len(secrets) == 2 and all(len(s) >= 20 for s in secrets), secrets
    screenshot(page, "api-key-shown-once")
    page.get_by_role("button", name="I have copied them").click()
    keys = page.get_by_test_id("api-keys")
    expect(keys.get_by_role("row")).to_have_count(3)
    page.reload()
    content = page.content()
    assert not any(s in content for s in secrets), "an API key was shown again"

    page.get_by_role("button", name="Regenerate secondary").click()
    expect(page.get_by_test_id("issued-keys").get_by_role("row")).to_have_count(2)
    page.get_by_role("button", name="I have copied them").click()
    page.get_by_role("button", name="Swap primary/secondary").click()
    expect(page.get_by_text("Keys swapped; the old primary is retiring.")).to_be_visible()
    expect(page.get_by_test_id("api-keys")).to_contain_text("Retiring")

    # 6. A channel: the webhook URL to register, listed and exported as CSV.
    channel_form = page.get_by_test_id("channel-form")
    channel_form.get_by_label("Interface").fill("IF-002")
    channel_form.get_by_role("button", name="Add channel").click()
    expect(page.get_by_text("Channel configured.")).to_be_visible()
    expect(page.get_by_test_id("channels")).to_contain_text("/dip/inbound/")
    screenshot(page, "dip-id-detail")

    page.goto(server.url("/setup/", slug))
    page.get_by_role("navigation", name="Onboarding sections").get_by_role(
        "link", name="Message channels"
    ).click()
    channel_row = page.get_by_test_id("channel-list").get_by_role("row").filter(has_text="IF-002")
    expect(channel_row).to_contain_text(sup_value)
    webhook = channel_row.locator("code").nth(1).inner_text()
    assert "/dip/inbound/" in webhook
    export = page.get_by_test_id("export-csv")
    expect(export).to_have_attribute("href", re.compile(r"format=csv"))
    screenshot(page, "channels")
    # Fetched by the page itself: Playwright's own request client cannot resolve *.localhost.
    csv_text = page.evaluate("url => fetch(url).then(r => r.text())", export.get_attribute("href"))
    assert csv_text.startswith("dip_id,") and webhook in csv_text

    # 7. Promotion is refused while the checklist is open; complete it, then propose.
    page.goto(server.url("/setup/promotion/", slug))
    expect(page.get_by_test_id("gaps")).to_contain_text("UIT onboarding checklist: 0/8 done")
    expect(page.get_by_test_id("propose")).to_have_count(0)

    page.goto(server.url("/setup/", slug))
    for step in range(1, 9):
        row = page.get_by_test_id("checklist-UIT").get_by_role("row").nth(step)
        row.get_by_label(f"Status of step {step}").select_option("done")
        row.get_by_label("Owner").fill(admin.email)
        row.get_by_role("button", name="Save").click()
        expect(page.get_by_text(f"UIT step {step} updated.")).to_be_visible()
    expect(page.get_by_test_id("checklist-UIT")).to_contain_text("8/8 done")
    expect(page.get_by_test_id("dip-id-list")).to_contain_text(sup_value)
    screenshot(page, "setup-home")

    page.goto(server.url("/setup/promotion/", slug))
    expect(page.get_by_test_id("gaps")).to_have_count(0)
    expect(page.get_by_test_id("diff")).to_contain_text(sup_value)
    page.get_by_test_id("propose").click()
    expect(page.get_by_text("Promotion proposed for review.")).to_be_visible()
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)  # staff decide

    # 8. Four eyes: a colleague approves the change set, the desk applies it; PRD gains the
    # DIP IDs. Sessions are per host: the desk hands its sign-in over to the tenant's host.
    colleague = make_person("ob-colleague", staff_role=StaffRole.DCP_ADMIN, mfa=True)
    committed(lambda: _approve_proposed_promotion(slug, colleague.email))
    desk.goto(server.url(f"/tenants/{slug}/"))
    desk.get_by_test_id("open-tenant").click()
    expect(desk).to_have_url(server.url("/", slug))
    desk.goto(server.url("/setup/promotion/", slug))
    expect(desk.get_by_role("button", name="Apply")).to_be_visible()
    screenshot(desk, "promotion")
    desk.get_by_role("button", name="Apply").click()
    expect(desk.get_by_text("Promoted to PRD.")).to_be_visible()
    expect(desk.get_by_role("cell", name="Applied")).to_be_visible()

    page.goto(server.url("/setup/?environment=PRD", slug))
    prd = page.get_by_test_id("dip-id-list")
    expect(prd).to_contain_text(sup_value)
    expect(prd.get_by_role("row")).to_have_count(3)
