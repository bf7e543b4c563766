"""Issue 11 acceptance: an auditor signs in with a TOTP code, reads the operational
reconciliation, the assurance view and a message's lineage, requests an evidence pack, watches
it build, downloads it through the signed link and the zip verifies (signature included); an
expired or tampered link shows the clear page."""

from __future__ import annotations

import time
import uuid
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tenants.roles import ClientRole
from tests.browser.conftest import committed, screenshot, sign_in, totp_code

pytestmark = pytest.mark.browser

TENANT = "alpha"


def _mpans(n: int) -> list[str]:
    from dip.identifiers import with_check_digit

    base = 1_900_000_000_000 + int(uuid.uuid4().hex[:7], 16) * 10
    return [with_check_digit(f"{base + i:012d}"[-12:]) for i in range(n)]


def _seed(mpans: list[str]) -> dict[str, str]:
    """Outbound: two settled, one accepted (acknowledged, not settled), one sent and never
    acknowledged, one rejected with an exception; one inbound validated. Returns public ids."""
    from django_tenants.utils import tenant_context

    from messaging import services as msg
    from messaging.models import ExceptionCategory
    from messaging.outbound.models import StatusReport
    from messaging.states import Direction, State
    from tenants.models import Tenant

    path = {
        "settled-1": (State.VALIDATED, State.QUEUED, State.SENT, State.ACCEPTED, State.SETTLED),
        "settled-2": (State.VALIDATED, State.QUEUED, State.SENT, State.ACCEPTED, State.SETTLED),
        "accepted": (State.VALIDATED, State.QUEUED, State.SENT, State.ACCEPTED),
        "sent": (State.VALIDATED, State.QUEUED, State.SENT),
        "rejected": (State.VALIDATED, State.QUEUED, State.SENT, State.REJECTED),
    }
    ids: dict[str, str] = {}
    with tenant_context(Tenant.objects.get(slug=TENANT)):
        for i, (label, states) in enumerate(path.items()):
            sur = f"SUR-EV-{uuid.uuid4().hex[:8]}"
            raw = msg.store_raw(f'{{"S1": {{"senderUniqueReference": "{sur}"}}}}'.encode())
            m = msg.create_messages(
                [
                    msg.NewMessage(
                        direction=Direction.OUTBOUND,
                        environment="UIT",
                        interface_id="IF-021" if i % 2 else "IF-019",
                        dip_id="2309010001",
                        raw=raw,
                        mpan_core=mpans[i],
                        sender_unique_reference=sur,
                        transaction_id=f"TX-{sur}",
                    )
                ],
                actor="browser-test",
            )[0]
            for state in states:
                assert msg.transition(m, state, actor="browser-test", reason=f"to {state}")
            if State.ACCEPTED in states:
                StatusReport.objects.create(
                    message=m, code="ACK", success=True, received_at=m.created, body={"ok": True}
                )
            if label == "rejected":
                msg.open_exception(
                    m, category=ExceptionCategory.REJECTED_BY_DIP, summary="DIP refused the item"
                )
            ids[label] = str(m.public_id)
        raw = msg.store_raw(b'{"payload": "inbound"}')
        inbound = msg.create_messages(
            [
                msg.NewMessage(
                    direction=Direction.INBOUND,
                    environment="UIT",
                    interface_id="IF-036",
                    dip_id="2309010001",
                    raw=raw,
                    mpan_core=mpans[5],
                    transaction_id=f"TX-IN-{uuid.uuid4().hex[:8]}",
                )
            ],
            actor="browser-test",
        )[0]
        msg.transition(inbound, State.VALIDATED, actor="browser-test")
    return ids


def _build(public_id: str) -> None:
    from django_tenants.utils import tenant_context

    from evidence import services
    from evidence.models import EvidencePack
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    with tenant_context(tenant):
        pack = EvidencePack.objects.get(public_id=public_id)
        assert pack.status == EvidencePack.Status.PENDING
        built = services.build(pack.pk, tenant_slug=tenant.slug, tenant_name=tenant.name)
        assert built is not None and built.status == EvidencePack.Status.READY


def test_auditor_reconciles_requests_and_downloads_a_verified_pack(
    page: Any, server: Any, make_person: Any, tmp_path: Any
) -> None:
    mpans = _mpans(6)
    ids = committed(lambda: _seed(mpans))
    auditor = make_person(
        "auditor", tenant_slug=TENANT, role=ClientRole.AUDITOR, mfa=True, full_name="Avery Audit"
    )

    sign_in(page, server, auditor, TENANT)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    page.get_by_label("Code").fill(totp_code(auditor.totp_secret))
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_test_id("tenant-name")).to_have_text("Alpha Energy")

    # Operational reconciliation, narrowed to this test's MPANs.
    page.get_by_role("link", name="Evidence", exact=True).click()
    expect(page.get_by_role("heading", name="Reconciliation")).to_be_visible()
    page.get_by_label("MPANs").fill(",".join(mpans))
    page.get_by_role("button", name="Show").click()
    operational = page.get_by_test_id("operational")
    expect(operational.locator("tbody tr")).to_have_count(2)  # IF-019 and IF-021, today
    differences = page.get_by_test_id("differences")
    # sent-not-acknowledged, acknowledged-not-settled and rejected differ; settled ones do not.
    expect(differences.locator("tbody tr")).to_have_count(3)
    expect(differences).to_contain_text(mpans[3])
    expect(differences).not_to_contain_text(mpans[0])
    expect(page.get_by_test_id("csv")).to_have_attribute("href", "?" + _query(page) + "&export=csv")
    screenshot(page, "evidence-reconciliation")

    # Assurance: counts and hash totals per channel; paste the DIP's transaction ids.
    page.get_by_role("navigation", name="Evidence sections").get_by_role(
        "link", name="Assurance"
    ).click()
    assurance = page.get_by_test_id("assurance")
    expect(assurance.locator("tbody tr")).to_have_count(3)  # 2 outbound channels + inbound
    page.get_by_label("DIP transaction ids").fill("TX-NOT-OURS-1\nTX-NOT-OURS-2")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_test_id("match")).to_contain_text("At the DIP, missing here (2)")
    screenshot(page, "evidence-assurance")

    # Lineage of the rejected message: every transition and its exception.
    page.goto(server.url(f"/evidence/lineage/{ids['rejected']}/", TENANT))
    lineage = page.get_by_test_id("lineage")
    expect(lineage).to_contain_text("rejected")
    expect(lineage.locator("li")).not_to_have_count(0)
    expect(lineage).to_contain_text("DIP refused the item")
    screenshot(page, "evidence-lineage")

    # Request a pack for the MPANs.
    page.get_by_role("link", name="Evidence", exact=True).click()
    page.get_by_role("navigation", name="Evidence sections").get_by_role(
        "link", name="Evidence packs"
    ).click()
    page.locator("summary", has_text="Build a pack").click()
    form = page.get_by_test_id("pack-form")
    today = timezone.localdate()
    form.get_by_label("Start").fill(today.isoformat())
    form.get_by_label("End").fill(today.isoformat())
    form.get_by_label("MPANs").fill(",".join(mpans))
    form.get_by_role("button", name="Build pack").click()
    status = page.get_by_test_id("pack-status")
    expect(status).to_contain_text("Pending")
    expect(status).to_have_attribute("hx-trigger", "every 2s")
    screenshot(page, "evidence-pack-progress")

    # No Celery worker here: run the build now; the page's polling picks up the result.
    pack_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    committed(lambda: _build(pack_id))
    expect(status).to_contain_text("Ready", timeout=8_000)
    expect(status).to_contain_text("6 messages")
    page.get_by_test_id("get-link").click()
    link = page.get_by_test_id("download-link")
    expect(link).to_contain_text("expires in")
    screenshot(page, "evidence-pack-ready")

    with page.expect_download() as info:
        link.get_by_role("button", name="Download").click()
    download = info.value
    assert download.suggested_filename == f"evidence-{pack_id}.zip"
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    from evidence.verify import verify_pack

    token = link.get_by_role("button", name="Download").get_attribute("href") or ""
    # The public key as anyone would fetch it (served on every host).
    key = page.evaluate("async () => (await fetch('/.well-known/opendcp-evidence-key.pem')).text()")
    assert key.startswith("-----BEGIN PUBLIC KEY-----")
    report = verify_pack(str(path), key.encode())
    assert report.ok, str(report)
    assert report.manifest["counts"]["messages"] == 6
    assert report.manifest["pack_id"] == pack_id

    # A link issued 16 minutes ago has expired; a tampered one is not valid.
    expired = committed(lambda: _old_token(pack_id, auditor.email))
    page.goto(server.url(f"/evidence/download/{expired}/", TENANT))
    problem = page.get_by_test_id("link-problem")
    expect(problem).to_contain_text("This download link has expired")
    screenshot(page, "evidence-link-expired")
    page.goto(token.rstrip("/")[:-3] + "xyz/")
    expect(problem).to_contain_text("This download link is not valid")


def _query(page: Any) -> str:
    return page.url.split("?", 1)[1]


def _old_token(pack_id: str, email: str) -> str:
    from django_tenants.utils import tenant_context

    from evidence import services
    from evidence.models import EvidencePack
    from tenants.models import Tenant, User

    with tenant_context(Tenant.objects.get(slug=TENANT)):
        pack = EvidencePack.objects.get(public_id=pack_id)
        with mock.patch("time.time", return_value=time.time() - 16 * 60):
            return services.download_token(pack=pack, user=User.objects.get(email=email))
