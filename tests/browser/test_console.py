"""Issue 10 acceptance: the operations console in a browser. An operator searches with many
pasted MPANs (a malformed line is reported), narrows to failures in a time range, works an
exception (assign, comment, resolve), bulk-requeues the failures (dry run, confirm, progress to
done) and reads the dashboard; a viewer is refused the bulk action; DCP staff see every
client's health."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tenants.roles import ClientRole, StaffRole
from tests.browser.conftest import RUN_ID, committed, screenshot, sign_in, totp_code

pytestmark = pytest.mark.browser

TENANT = "alpha"


def _mpans(n: int) -> list[str]:
    from dip.identifiers import with_check_digit

    base = 1_800_000_000_000 + int(uuid.uuid4().hex[:7], 16) * 10
    return [with_check_digit(f"{base + i:012d}"[-12:]) for i in range(n)]


def _seed(mpans: list[str], start: Any, end: Any) -> dict[str, Any]:
    """50 messages over five MPANs; every other one created two hours ago. Outbound failed
    (transport exception) and rejected (rejected-by-DIP exception), settled, sent; inbound
    validated. Returns the failures expected inside [start, end] and the exception codes."""
    from django_tenants.utils import tenant_context

    from messaging import services as msg
    from messaging.models import ExceptionCategory, Message
    from messaging.states import Direction, State
    from tenants.models import Tenant

    codes = {"transport": f"T-{RUN_ID}", "rejected": f"R-{RUN_ID}"}
    now = timezone.now()
    with tenant_context(Tenant.objects.get(slug=TENANT)):
        items, kinds = [], []
        for i in range(50):
            kind = (
                "inbound"
                if i % 10 == 7
                else "failed"
                if i % 6 == 0
                else "rejected"
                if i % 6 == 3
                else "sent"
                if i % 6 == 5
                else "settled"
            )
            direction = Direction.INBOUND if kind == "inbound" else Direction.OUTBOUND
            sur = f"SUR-C-{RUN_ID}-{i:02d}"
            items.append(
                msg.NewMessage(
                    direction=direction,
                    environment="UIT",
                    interface_id=("IF-021", "IF-019", "IF-036")[i % 3],
                    dip_id="2309010001",
                    raw=msg.store_raw(f'{{"S1": {{"senderUniqueReference": "{sur}"}}}}'.encode()),
                    mpan_core=mpans[i % len(mpans)],
                    sender_unique_reference=sur if direction == Direction.OUTBOUND else "",
                    transaction_id=f"TX-C-{RUN_ID}-{i:02d}",
                )
            )
            kinds.append(kind)
        made = msg.create_messages(items, actor="browser-test")
        by_kind: dict[str, list[Any]] = {}
        for m, kind in zip(made, kinds, strict=True):
            by_kind.setdefault(kind, []).append(m)
        steps = {
            "failed": (State.VALIDATED, State.QUEUED, State.SENT, State.FAILED),
            "rejected": (State.VALIDATED, State.QUEUED, State.SENT, State.REJECTED),
            "sent": (State.VALIDATED, State.QUEUED, State.SENT),
            "settled": (State.VALIDATED, State.QUEUED, State.SENT, State.ACCEPTED, State.SETTLED),
            "inbound": (State.VALIDATED,),
        }
        for kind, group in by_kind.items():
            for state in steps[kind]:
                msg.transition_many(group, state, actor="browser-test")
        for m in by_kind["failed"]:
            msg.open_exception(
                m,
                category=ExceptionCategory.TRANSPORT,
                code=codes["transport"],
                summary="DIP endpoint timed out after 3 attempts",
            )
        for m in by_kind["rejected"]:
            msg.open_exception(
                m,
                category=ExceptionCategory.REJECTED_BY_DIP,
                code=codes["rejected"],
                summary="DIP rejected the item: unknown MPAN for this DIP ID",
            )
        earlier = [m.pk for i, m in enumerate(made) if i % 2 == 0]
        Message.objects.filter(pk__in=earlier).update(created=now - timedelta(hours=2))
        expected = Message.objects.filter(
            pk__in=[m.pk for m in made],
            direction=Direction.OUTBOUND,
            state__in=(State.FAILED, State.REJECTED),
            created__gte=start,
            created__lte=end,
        ).count()
    return {
        "expected": expected,
        "n_transport": len(by_kind["failed"]),
        "n_rejected": len(by_kind["rejected"]),
        **codes,
    }


def _run_bulk(action_id: int) -> str:
    from django_tenants.utils import tenant_context

    from console.models import BulkAction
    from console.tasks import run_bulk_action
    from tenants.models import Tenant

    with tenant_context(Tenant.objects.get(slug=TENANT)):
        run_bulk_action(action_id)  # the task body, as the worker would run it
        return BulkAction.objects.get(pk=action_id).status


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_operator_searches_works_exceptions_bulk_requeues_and_reads_dashboard(
    page: Any, server: Any, make_person: Any
) -> None:
    mpans = _mpans(5)
    now = timezone.now().replace(microsecond=0)
    start, end = now - timedelta(hours=3), now - timedelta(hours=1)
    seeded = committed(lambda: _seed(mpans, start, end))
    operator = make_person(
        "operator", tenant_slug=TENANT, role=ClientRole.CLIENT_OPERATOR, full_name="Olu Operator"
    )
    sign_in(page, server, operator, TENANT)
    page.get_by_test_id("nav-console").click()
    expect(page.get_by_role("heading", name="Search messages")).to_be_visible()

    # Search: four MPANs pasted plus one malformed line, failures only, a time range.
    form = page.get_by_test_id("console-search")
    form.get_by_label("MPAN cores").fill("\n".join([*mpans[:2], "12345", *mpans[2:]]))
    form.get_by_label("Outcome").select_option("failure")
    form.get_by_label("From (to the second)").fill(_iso(start))
    form.get_by_label("To", exact=True).fill(_iso(end))
    form.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("mpan-errors")).to_contain_text("1 line(s) ignored; 5 MPAN(s) used")
    expect(page.get_by_test_id("mpan-errors")).to_contain_text("Line 3: 12345")
    count = page.get_by_test_id("result-count")
    expect(count).to_contain_text(f"{seeded['expected']} message(s)")
    results = page.get_by_test_id("console-results").locator("tbody tr")
    expect(results).to_have_count(seeded["expected"])
    export = count.get_by_role("link", name="Export CSV")
    expect(export).to_have_attribute("href", _contains("format=csv"))
    expect(export).to_have_attribute("href", _contains("status_group=failure"))
    screenshot(page, "console-search")
    search_url = page.url

    # Exception workbench: group counts; assign, comment and resolve one.
    page.goto(server.url("/console/exceptions/", TENANT))
    groups = page.get_by_test_id("exception-groups")
    transport = groups.locator("tr", has_text=seeded["transport"])
    expect(transport.locator("td").nth(2)).to_have_text(str(seeded["n_transport"]))
    rejected = groups.locator("tr", has_text=seeded["rejected"])
    expect(rejected.locator("td").nth(2)).to_have_text(str(seeded["n_rejected"]))
    transport.get_by_role("link", name="Show").click()
    expect(page.get_by_role("heading", name=f"transport {seeded['transport']}")).to_be_visible()
    screenshot(page, "console-workbench")
    page.locator("main table").last.locator("tbody tr").first.get_by_role("link").click()
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_text(f"assigned to {operator.email}")).to_be_visible()
    page.get_by_placeholder("Comment").fill("Endpoint was down 18:02–18:41; requeueing.")
    page.get_by_role("button", name="Comment").click()
    expect(page.get_by_role("listitem").filter(has_text="Endpoint was down")).to_be_visible()
    page.get_by_placeholder("Resolution").fill("endpoint restored")
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("Resolved", exact=False).first).to_be_visible()
    page.goto(server.url("/console/exceptions/", TENANT))
    expect(transport.locator("td").nth(2)).to_have_text(str(seeded["n_transport"] - 1))

    # Bulk requeue from the search: dry run (count + sample), confirm, run, watch it finish.
    page.goto(search_url)
    page.locator("summary", has_text="act on every match").click()
    page.get_by_test_id("bulk-dry-run").click()
    expect(page.get_by_role("heading", name="Bulk action — dry run")).to_be_visible()
    expect(page.get_by_test_id("dry-run-count")).to_contain_text(
        f"{seeded['expected']} failed/rejected/expired outbound message(s) will be requeued"
    )
    sample = page.locator("main table tbody tr")
    expect(sample).to_have_count(seeded["expected"])
    for row in sample.all():
        assert row.locator("td").nth(2).inner_text() in mpans
    screenshot(page, "console-bulk-dry-run")
    page.get_by_test_id("bulk-confirm").click()
    progress = page.get_by_test_id("bulk-progress")
    expect(progress).to_contain_text(f"0 / {seeded['expected']}")
    action_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    assert committed(lambda: _run_bulk(action_id)) == "done"
    expect(progress).to_contain_text("Done", timeout=8_000)
    expect(progress).to_contain_text(f"{seeded['expected']} requeued")
    expect(progress).to_contain_text("100")
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)  # finished
    screenshot(page, "console-bulk-done")
    page.goto(search_url)
    expect(page.get_by_test_id("result-count")).to_contain_text("0 message(s)")

    # Dashboard: the chart is drawn, outcomes and latency tables are there.
    page.goto(server.url("/console/dashboard/", TENANT))
    expect(page.locator("canvas#volumes")).to_be_visible()
    assert page.evaluate("() => Boolean(window.Chart && Chart.getChart('volumes'))")
    expect(page.get_by_test_id("rates")).to_contain_text("IF-021")
    expect(page.get_by_test_id("latency")).to_be_visible()
    screenshot(page, "console-dashboard")


def test_viewer_is_refused_bulk_requeue(page: Any, server: Any, make_person: Any) -> None:
    viewer = make_person("viewer", tenant_slug=TENANT, role=ClientRole.CLIENT_VIEWER)
    sign_in(page, server, viewer, TENANT)
    page.goto(server.url("/console/?status_group=failure", TENANT))
    expect(page.get_by_test_id("result-count")).to_be_visible()
    expect(page.get_by_test_id("bulk-dry-run")).to_have_count(0)
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    status = page.evaluate(
        """async (token) => {
            const body = new URLSearchParams({csrfmiddlewaretoken: token,
                kind: "requeue_outbound", status_group: "failure", confirm: "1"});
            return (await fetch("/console/bulk/new/", {method: "POST", body})).status;
        }""",
        token,
    )
    assert status == 403


def test_staff_sees_every_client(page: Any, server: Any, make_person: Any) -> None:
    staff = make_person("staff-console", staff_role=StaffRole.DCP_OPERATOR, mfa=True)
    sign_in(page, server, staff)
    page.get_by_label("Code").fill(totp_code(staff.totp_secret))
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_test_id("tenant-list")).to_be_visible()
    page.goto(server.url("/console/"))
    health = page.get_by_test_id("platform-health")
    expect(health.get_by_test_id("health-alpha")).to_contain_text("Alpha Energy")
    expect(health.get_by_test_id("health-beta")).to_contain_text("Beta Energy")
    screenshot(page, "console-staff")


def _contains(text: str) -> Any:
    import re

    return re.compile(re.escape(text))
