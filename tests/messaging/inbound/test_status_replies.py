"""Status replies about our clients' inbound messages (issue 18, docs/inbound.md "Status
replies"): a negative status for every issue, RCP0000 only where the tenant's policy asks for
it (default: issues only), the choice recorded on each message; our L4 response time and our
synchronous answer time feed the metrics the DIP-latency alerts read."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from dcp import metrics
from dip.envelope import serialise_batch
from messaging.inbound import processing
from messaging.inbound import status as replies
from messaging.inbound.models import StatusReply, StatusReplyPolicy
from messaging.models import Message
from tenants.models import User
from tests.messaging.inbound.conftest import Env
from tests.messaging.inbound.test_pipeline import admin, deliver, env, in_tenant, run_pipeline
from tests.messaging.inbound.test_webhook import delivered_item, post
from tests.sandbox.helpers import ACME

pytestmark = pytest.mark.django_db
__all__ = ["env"]  # the module fixture, shared with test_pipeline
URL = "/api/v1/status-reply-policy/"


def _count(name: str, **labels: str) -> float:
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def _replies(env: Env, surs: list[str]) -> dict[str, tuple[str, str, str]]:
    def q() -> dict[str, tuple[str, str, str]]:
        return {
            r.message.sender_unique_reference: (r.state, r.code, r.mode)
            for r in StatusReply.objects.select_related("message").filter(
                message__sender_unique_reference__in=surs
            )
        }

    return in_tenant(env, q)


def _seen_at_sandbox(env: Env, txns: list[str]) -> int:
    marks = ",".join("?" * len(txns))
    return int(
        env.sb.store.scalar(
            "SELECT COUNT(*) FROM status_messages WHERE level = 'L4' "
            f"AND sender_id = '{ACME}' AND transaction_id IN ({marks})",
            tuple(txns),
        )
    )


def _txns(env: Env, surs: list[str]) -> list[str]:
    return in_tenant(
        env,
        lambda: list(
            Message.objects.filter(sender_unique_reference__in=surs).values_list(
                "transaction_id", flat=True
            )
        ),
    )


@pytest.fixture
def policy(env: Env) -> Any:
    """Set the tenant's policy as its admin (committed); every row is removed afterwards."""

    def set_policy(mode: str, interface_id: str = "") -> None:
        in_tenant(
            env,
            lambda: replies.set_reply_policy(
                interface_id=interface_id, mode=mode, actor=admin(env)
            ),
        )

    yield set_policy
    in_tenant(env, lambda: StatusReplyPolicy.objects.all().delete())


def test_default_sends_negatives_only_and_records_the_choice(env: Env) -> None:
    in_tenant(env, replies.send_due_status_replies)  # earlier tests' replies leave first
    l4_before = _count("dcp_dip_l4_response_seconds_count", interface="IF-021")
    ack_before = _count("dcp_dip_sync_ack_seconds_count", interface="IF-021")
    good = deliver(env, per_mpan=1)  # through the sandbox: two healthy messages
    txn = f"NEG-{uuid.uuid4().hex[:8]}"
    bad = delivered_item(txn)
    bad["payload"]["CommonBlock"]["S1"]["environmentTag"] = "PRD"  # wrong environment
    assert post(env, serialise_batch([bad])).status_code == 201
    bad_sur = bad["payload"]["CommonBlock"]["S1"]["senderUniqueReference"]
    run_pipeline(env, [*good, bad_sur])

    got = _replies(env, [*good, bad_sur])
    assert {got[s] for s in good} == {("withheld", "RCP0000", "issues_only")}
    assert got[bad_sur] == ("sent", "RCP1004", "issues_only")
    assert _seen_at_sandbox(env, _txns(env, good)) == 0  # no RCP0000 went out
    assert _seen_at_sandbox(env, [txn]) == 1  # the negative did
    # Our L4 response (3 messages: 2 decided silent, 1 negative sent) and our sync answers.
    assert _count("dcp_dip_l4_response_seconds_count", interface="IF-021") == l4_before + 3
    assert _count("dcp_dip_sync_ack_seconds_count", interface="IF-021") >= ack_before + 3


def test_policy_all_sends_rcp0000_and_an_interface_override_wins(env: Env, policy: Any) -> None:
    policy("all")
    confirmed = deliver(env, per_mpan=1)
    run_pipeline(env, confirmed)
    assert {v for v in _replies(env, confirmed).values()} == {("sent", "RCP0000", "all")}
    assert _seen_at_sandbox(env, _txns(env, confirmed)) == 2

    policy("issues_only", interface_id="IF-021")  # the override beats the tenant default
    quiet = deliver(env, per_mpan=1)
    run_pipeline(env, quiet)
    assert {v for v in _replies(env, quiet).values()} == {("withheld", "RCP0000", "issues_only")}
    assert _seen_at_sandbox(env, _txns(env, quiet)) == 0

    policy("inherit", interface_id="IF-021")  # back to the tenant default ("all")
    again = deliver(env, per_mpan=1)
    run_pipeline(env, again)
    assert {v[0] for v in _replies(env, again).values()} == {"sent"}


def test_processing_twice_keeps_the_first_decision(env: Env, policy: Any) -> None:
    surs = deliver(env, per_mpan=1)
    run_pipeline(env, surs)
    policy("all")
    ids = in_tenant(
        env,
        lambda: list(
            Message.objects.filter(sender_unique_reference__in=surs).values_list("id", flat=True)
        ),
    )

    def rerun() -> int:
        return processing.process_messages(ids)

    assert in_tenant(env, rerun) == 0
    assert {v[0] for v in _replies(env, surs).values()} == {"withheld"}


def test_policy_api_validates_checks_permissions_and_audits(env: Env, host_client: Any) -> None:
    user = in_tenant(env, lambda: admin(env))
    client = host_client(env.tenant, user)
    assert client.get(URL).json() == {"default": "issues_only", "interfaces": {}}

    ok = client.put(URL, {"interface_id": "if-025", "mode": "all"}, content_type="application/json")
    assert ok.status_code == 200, ok.json()
    assert ok.json() == {"default": "issues_only", "interfaces": {"IF-025": "all"}}
    for bad in (
        {"interface_id": "IF-25", "mode": "all"},
        {"mode": "sometimes"},
        {"interface_id": "", "mode": "inherit"},  # the default cannot inherit
        {},
    ):
        answer = client.put(URL, bad, content_type="application/json")
        assert answer.status_code == 400, (bad, answer.content)
    with tenant_context(env.tenant):  # the API ran in this test's transaction
        event = AuditEvent.objects.filter(action="status_reply_policy.set").latest("seq")
        assert event.target_id == "IF-025" and event.changes["mode"] == ["", "all"]
        viewer = User.objects.create_user(email=f"viewer-{uuid.uuid4().hex[:6]}@inbound.example")
        env.tenant.memberships.create(user=viewer, role="client_viewer")
    read_only = host_client(env.tenant, viewer)
    assert read_only.get(URL).status_code == 200
    denied = read_only.put(URL, {"mode": "all"}, content_type="application/json")
    assert denied.status_code == 403


def test_policy_page_shows_and_changes_the_policy(env: Env, host_client: Any) -> None:
    user = in_tenant(env, lambda: admin(env))
    client = host_client(env.tenant, user)
    page = client.get("/messages/endpoints/status-replies/")
    assert page.status_code == 200
    assert "Issues only (negative statuses)" in page.content.decode()
    saved = client.post(
        "/messages/endpoints/status-replies/", {"interface_id": "IF-040", "mode": "all"}
    )
    assert saved.status_code == 302
    shown = client.get("/messages/endpoints/status-replies/").content.decode()
    assert "IF-040" in shown and "Issues and positive confirmations" in shown
    bad = client.post("/messages/endpoints/status-replies/", {"interface_id": "X", "mode": "all"})
    assert bad.status_code == 302  # refused with a message, nothing saved
    with tenant_context(env.tenant):
        assert set(StatusReplyPolicy.objects.values_list("interface_id", flat=True)) == {"IF-040"}
