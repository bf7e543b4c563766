"""Console behaviour through services and HTTP: MPAN lists, bad input, bulk requeue of 10,000
messages with dry run, pause and resume, the exception workbench, four-eyes edit-and-resend
and permissions (a viewer cannot replay)."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from bench.console_seed import BASE, MPANS, seed
from console import search, services
from console.models import BulkAction, ResendRequest
from messaging import services as core
from messaging.models import ExceptionCategory, Message
from messaging.outbound.models import OutboxEntry
from messaging.states import Direction, State
from tenants.roles import ClientRole
from tests.factories import member

pytestmark = pytest.mark.django_db


def _outbound(state: str = State.FAILED, **kw) -> Message:
    raw = core.store_raw(kw.pop("body", b'{"payload": {}}'))
    m = core.create_messages(
        [
            core.NewMessage(
                direction=Direction.OUTBOUND,
                environment="UIT",
                interface_id="IF-021",
                dip_id="2309010001",
                raw=raw,
                mpan_core=kw.pop("mpan_core", MPANS[0]),
                sender_unique_reference=kw.pop("sur", "SUR-X"),
                **kw,
            )
        ],
        actor="test",
    )[0]
    for s in (State.VALIDATED, State.QUEUED, State.SENT, state):
        if m.state != state:
            core.transition(m, s, actor="test")
    return m


def test_mpan_list_reports_each_bad_line_and_uses_the_rest():
    text = "\n".join(["MPAN", MPANS[0], "12345", MPANS[1] + "," + MPANS[2], "", "1200023305968"])
    result = search.parse_mpans(text)
    assert result.mpans == (MPANS[0], MPANS[1], MPANS[2])
    assert [(e.line, e.value) for e in result.errors] == [(3, "12345"), (6, "1200023305968")]
    assert "check digit" in result.errors[1].reason


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (
            {"created_from": "2026-11-23T18:00:00Z", "created_to": "2026-11-23T17:00:00Z"},
            "created_to",
        ),
        ({"created_from": "1970-01-01T00:00:00Z"}, "created_from"),
        ({"created_to": "3026-01-01T00:00:00Z"}, "created_to"),
        ({"created_from": "yesterday-ish"}, "created_from"),
        ({"status_group": "meh"}, "status_group"),
        ({"envelope": "no-equals-sign"}, "envelope"),
    ],
)
def test_absurd_input_is_a_clear_error(params, field):
    with pytest.raises(search.SearchError) as info:
        search.build_query(params)
    assert field in info.value.errors


def test_api_400_for_absurd_range_and_mpan_errors_listed(tenant_a, host_client):
    viewer = member(tenant_a, ClientRole.CLIENT_VIEWER)
    client = host_client(tenant_a, viewer)
    bad = client.get(
        "/api/v1/console/search/",
        {"created_from": "2027-01-01T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"},
    )
    assert bad.status_code == 400 and "created_to" in bad.json()["details"]
    page = client.get("/console/", {"created_from": "0001-01-01T00:00:00Z"})
    assert page.status_code == 400
    with tenant_context(tenant_a):
        _outbound()
    ok = client.post(
        "/api/v1/console/search/",
        {"mpans": f"{MPANS[0]}\nnot-an-mpan\n", "status_group": "failure"},
        content_type="application/json",
    )
    body = ok.json()
    assert ok.status_code == 200 and body["count"] == {"value": 1, "exact": True}
    assert body["mpan_errors"][0]["line"] == 2


def test_search_page_and_exports_stream_everything(tenant_a, host_client):
    user = member(tenant_a, ClientRole.CLIENT_VIEWER)
    with tenant_context(tenant_a):
        for i in range(3):
            _outbound(sur=f"SUR-E{i}")
    client = host_client(tenant_a, user)
    page = client.get("/console/", {"status_group": "failure", "mpans": MPANS[0]})
    assert page.status_code == 200 and b"console-results" in page.content
    csv_resp = client.get("/console/export/", {"status_group": "failure", "format": "csv"})
    lines = b"".join(csv_resp.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("id,public_id") and len(lines) == 4
    jsonl = client.get("/api/v1/console/export/", {"any_id": "SUR-E1"})
    rows = [json.loads(x) for x in b"".join(jsonl.streaming_content).splitlines()]
    assert [r["sender_unique_reference"] for r in rows] == ["SUR-E1"]


def _seed_failed_outbound(tenant, n: int) -> None:
    """n failed outbound messages (+ as many inbound ones) in the test's transaction."""
    with connection.cursor() as cur:
        seed(cur, schema=tenant.schema_name, count=2 * n, start=10_000_000)
        cur.execute(
            f'UPDATE "{tenant.schema_name}".messaging_message SET state = %s '
            "WHERE direction = 'outbound' AND sender_unique_reference LIKE 'SUR-10%%'",
            [State.FAILED],
        )


def test_bulk_requeue_10k_with_dry_run_pause_and_resume(tenant_a):
    n = 10_000
    operator = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    with tenant_context(tenant_a):
        _seed_failed_outbound(tenant_a, n)
        query, _ = search.build_query({"status_group": "failure", "created_from": BASE.isoformat()})
        preview = services.dry_run(kind=BulkAction.Kind.REQUEUE_OUTBOUND, query=query)
        assert preview.eligible.exact and preview.eligible.value >= n
        assert Message.objects.filter(state=State.QUEUED).count() == 0  # a dry run changes nothing

        action = services.start_bulk(
            kind=BulkAction.Kind.REQUEUE_OUTBOUND,
            query=query,
            user=operator,
            chunk_size=1000,
            enqueue=False,
        )
        total = action.total
        assert total == preview.eligible.value
        sleeps: list[float] = []
        action = services.run_bulk(action.pk, max_chunks=3, sleep=sleeps.append)
        assert action.processed == 3000 and action.status == BulkAction.Status.RUNNING
        assert sleeps and all(s > 0 for s in sleeps)  # rate-limited between chunks

        services.control_bulk(action=action, command="pause", user=operator)
        action = services.run_bulk(action.pk, sleep=lambda _s: None)
        assert action.status == BulkAction.Status.PAUSED and action.processed == 3000
        assert Message.objects.filter(state=State.QUEUED).count() == 3000

        services.control_bulk(action=action, command="resume", user=operator)
        action = services.run_bulk(action.pk, sleep=lambda _s: None)
        assert action.status == BulkAction.Status.DONE
        assert action.succeeded == total and action.report["outcome"] == "done"
        assert Message.objects.filter(state=State.QUEUED).count() == total
        assert OutboxEntry.objects.filter(pending=True).count() == total
        assert Message.objects.filter(direction="outbound", state=State.FAILED).count() == 0
        actions = set(AuditEvent.objects.values_list("action", flat=True))
        assert {
            "console.bulk.started",
            "console.bulk.pause",
            "console.bulk.resume",
            "console.bulk.done",
        } <= actions
        with pytest.raises(services.ConsoleRefused):
            services.control_bulk(action=action, command="cancel", user=operator)


def test_bulk_cancel_stops_between_chunks(tenant_a):
    operator = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    with tenant_context(tenant_a):
        _seed_failed_outbound(tenant_a, 2000)
        query, _ = search.build_query({"status_group": "failure"})
        action = services.start_bulk(
            kind=BulkAction.Kind.REQUEUE_OUTBOUND,
            query=query,
            user=operator,
            chunk_size=500,
            enqueue=False,
        )
        services.run_bulk(action.pk, max_chunks=1, sleep=lambda _s: None)
        services.control_bulk(action=action, command="cancel", user=operator)
        action = services.run_bulk(action.pk, sleep=lambda _s: None)
        assert action.status == BulkAction.Status.CANCELLED and action.processed == 500


def test_viewer_cannot_replay_or_requeue(tenant_a, host_client):
    viewer = member(tenant_a, ClientRole.CLIENT_VIEWER)
    client = host_client(tenant_a, viewer)
    api = client.post(
        "/api/v1/console/bulk-actions/",
        {"search": {"status_group": "failure"}, "dry_run": False},
        content_type="application/json",
    )
    assert api.status_code == 403 and api.json()["code"] == "permission_denied"
    page = client.post("/console/bulk/new/", {"status_group": "failure", "confirm": "1"})
    assert page.status_code == 403
    with tenant_context(tenant_a):
        m = _outbound()
        exc = core.open_exception(m, category=ExceptionCategory.TRANSPORT, summary="down")
    assert client.post(f"/console/exceptions/{exc.pk}/retry/").status_code == 403
    with tenant_context(tenant_a):
        assert BulkAction.objects.count() == 0
        assert Message.objects.get(pk=m.pk).state == State.FAILED


def test_operator_bulk_api_dry_run_then_start(
    tenant_a, host_client, monkeypatch, django_capture_on_commit_callbacks
):
    started: list[int] = []
    monkeypatch.setattr(services, "_enqueue", lambda pk, countdown=0: started.append(pk))
    operator = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    client = host_client(tenant_a, operator)
    with tenant_context(tenant_a):
        for i in range(3):
            _outbound(sur=f"SUR-B{i}")
    dry = client.post(
        "/api/v1/console/bulk-actions/",
        {"search": {"status_group": "failure"}},
        content_type="application/json",
    ).json()
    assert dry["dry_run"] and dry["eligible"] == {"value": 3, "exact": True}
    assert len(dry["sample"]) == 3
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            "/api/v1/console/bulk-actions/",
            {"search": {"status_group": "failure"}, "dry_run": False},
            content_type="application/json",
        )
    assert resp.status_code == 202 and resp.json()["total"] == 3
    assert started == [resp.json()["id"]]  # the worker is enqueued after commit


def test_exception_workbench_assign_comment_retry_resolve(tenant_a, host_client):
    operator = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    client = host_client(tenant_a, operator)
    with tenant_context(tenant_a):
        m = _outbound()
        exc = core.open_exception(
            m, category=ExceptionCategory.TRANSPORT, code="503", summary="DIP down"
        )
        other = core.open_exception(
            _outbound(sur="SUR-W2", state=State.REJECTED),
            category=ExceptionCategory.REJECTED_BY_DIP,
            code="MSG1006",
            summary="dup SUR",
        )
    board = client.get("/console/exceptions/")
    assert board.status_code == 200 and b"MSG1006" in board.content and b"503" in board.content
    assert (
        client.post(f"/console/exceptions/{exc.pk}/assign/", {"assignee": "ops@x"}).status_code
        == 302
    )
    client.post(f"/console/exceptions/{exc.pk}/comment/", {"text": "DIP outage 18:02"})
    client.post(f"/console/exceptions/{exc.pk}/retry/")
    client.post(f"/console/exceptions/{other.pk}/resolve/", {"resolution": "client fixed it"})
    assert client.get(f"/console/exceptions/{exc.pk}/").status_code == 200
    with tenant_context(tenant_a):
        exc.refresh_from_db()
        other.refresh_from_db()
        assert exc.assigned_to == "ops@x" and exc.console_comments.count() == 1
        assert exc.status == "resolved" and Message.objects.get(pk=m.pk).state == State.QUEUED
        assert other.status == "resolved" and other.resolved_by == operator.email
        actions = set(AuditEvent.objects.values_list("action", flat=True))
        assert {
            "console.exception.assigned",
            "console.exception.commented",
            "console.message.requeued",
            "console.exception.resolved",
        } <= actions


def test_four_eyes_edit_and_resend(tenant_a, host_client):
    editor = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    approver = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    with tenant_context(tenant_a):
        original = _outbound(state=State.REJECTED, body=b'{"payload": {"v": 1}}')
        original_raw = original.raw.sha256
    edited = {"payload": {"v": 2}}
    ec = host_client(tenant_a, editor)
    resp = ec.post(
        f"/console/resend/{original.public_id}/",
        {"item": json.dumps(edited), "reason": "fix the reading"},
    )
    assert resp.status_code == 302
    with tenant_context(tenant_a):
        req = ResendRequest.objects.get()
    # The editor may not approve their own edit.
    refused = ec.post(f"/console/resends/{req.pk}/decide/", {"decision": "approve"})
    assert refused.status_code == 403 and b"four-eyes" in refused.content
    with tenant_context(tenant_a):
        req.refresh_from_db()
        assert req.status == ResendRequest.Status.PENDING

        calls: list[dict] = []

        def fake_submit(**kwargs):
            calls.append(kwargs)
            new = _outbound(state=State.QUEUED, sur="SUR-RESENT", body=b'{"payload": {"v": 2}}')
            return SimpleNamespace(submission=SimpleNamespace(message_ids=[new.pk]))

        done = services.decide_resend(request=req, user=approver, approve=True, submit=fake_submit)
        assert done.status == ResendRequest.Status.SENT and done.approver == approver.email
        assert calls[0]["items"] == [edited] and calls[0]["interface_id"] == "IF-021"
        assert done.resent is not None and done.resent.pk != original.pk
        original.refresh_from_db()
        assert original.state == State.REJECTED and original.raw.sha256 == original_raw
        actions = list(AuditEvent.objects.values_list("action", "actor_email"))
        assert ("console.resend.requested", editor.email) in actions
        assert ("console.resend.self_approval_refused", editor.email) in actions
        assert ("console.resend.approved", approver.email) in actions
        with pytest.raises(services.ConsoleRefused):
            services.decide_resend(request=req, user=approver, approve=True, submit=fake_submit)


def test_resend_through_real_submission_validation_fails_cleanly(tenant_a):
    """Without a nomination the outbound service refuses: the request records why."""
    editor = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    approver = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    with tenant_context(tenant_a):
        original = _outbound(state=State.REJECTED)
        req = services.request_resend(
            original=original, edited_item={"payload": {}}, reason="x", user=editor
        )
        done = services.decide_resend(request=req, user=approver, approve=True)
        assert done.status == ResendRequest.Status.FAILED and done.outcome


def test_saved_search_round_trip(tenant_a, host_client):
    user = member(tenant_a, ClientRole.CLIENT_VIEWER)
    client = host_client(tenant_a, user)
    query = search.SearchQuery(
        mpans=(MPANS[0],),
        status_group="failure",
        interface_ids=("IF-021", "IF-036"),
        created_from=BASE,
        created_to=BASE + timedelta(seconds=1),
    )
    resp = client.post("/console/saved/", {"name": "Outage", "qs": query.querystring()})
    assert resp.status_code == 302
    with tenant_context(tenant_a):
        from console.models import SavedSearch

        saved = SavedSearch.objects.get(name="Outage")
        assert search.SearchQuery.from_params(saved.params) == query


def test_dashboard_latency_against_dip_rules(tenant_a, host_client):
    from console import dashboard

    with tenant_context(tenant_a):
        m = _outbound(state=State.ACCEPTED)
        core.transition(m, State.SETTLED, actor="dip")
        rows = dashboard.latencies(since=m.created - timedelta(minutes=1))
        kinds = {r.kind for r in rows}
        assert kinds == {"ack", "l4"} and all(r.band == "normal" for r in rows)
        assert all(r.compliant for r in rows)  # instantaneous in the test
        assert dashboard.THRESHOLDS["ack"]["normal"] == (2.0, 4.0)
    user = member(tenant_a, ClientRole.CLIENT_VIEWER)
    client = host_client(tenant_a, user)
    assert client.get("/console/dashboard/").status_code == 200
    data = client.get("/api/v1/console/dashboard/").json()
    assert data["rates"] and data["latency"]


def test_bulk_pages_dry_run_confirm_progress_and_task(
    tenant_a, host_client, monkeypatch, django_capture_on_commit_callbacks
):
    operator = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    client = host_client(tenant_a, operator)
    with tenant_context(tenant_a):
        for i in range(3):
            _outbound(sur=f"SUR-P{i}")
    dry = client.post("/console/bulk/new/?status_group=failure", {"kind": "requeue_outbound"})
    assert dry.status_code == 200 and b'data-testid="dry-run-count"><strong>3' in dry.content
    with tenant_context(tenant_a):
        assert Message.objects.filter(state=State.QUEUED).count() == 0
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", lambda pk, countdown=0: queued.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            "/console/bulk/new/?status_group=failure", {"kind": "requeue_outbound", "confirm": "1"}
        )
    assert resp.status_code == 302 and queued
    from console.tasks import run_bulk_action

    with tenant_context(tenant_a):
        run_bulk_action(queued[0])  # the task body, in the tenant's schema
        assert BulkAction.objects.get(pk=queued[0]).status == BulkAction.Status.DONE
    partial = client.get(resp["Location"], HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"bulk-progress" in partial.content
    assert b"<html" not in partial.content and b"3 requeued" in partial.content
    assert client.get("/console/bulk/").status_code == 200


def test_bulk_dry_run_keeps_the_search_filters_of_its_query_string(tenant_a, host_client):
    """Regression: the dry run/confirm POST carries the search in its query string; reading
    only the body dropped the filters and the bulk action matched every failed message."""
    operator = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    client = host_client(tenant_a, operator)
    with tenant_context(tenant_a):
        _outbound(sur="SUR-F0", mpan_core=MPANS[0])
        _outbound(sur="SUR-F1", mpan_core=MPANS[1])
        _outbound(sur="SUR-F2", mpan_core=MPANS[1])
    dry = client.post(
        f"/console/bulk/new/?status_group=failure&mpans={MPANS[0]}", {"kind": "requeue_outbound"}
    )
    assert dry.status_code == 200
    assert b'data-testid="dry-run-count"><strong>1' in dry.content
