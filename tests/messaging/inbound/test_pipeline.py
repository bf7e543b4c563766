"""After the acknowledgement: L4 validation, status replies seen by the sandbox, signed pushes
to a client system in MPAN order, the pull feed, endpoint failure, pause, resume and rotation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from messaging.inbound import endpoints, processing, push, status
from messaging.inbound.models import ClientEndpoint, StatusReply
from messaging.inbound.sync import sync_channels
from messaging.models import Message, MessageException
from tenants.models import User
from tests.messaging.inbound.conftest import Env, committed, wait_for
from tests.sandbox.helpers import ACME, ADMIN, BRIGHTWATT, if021, send

pytestmark = pytest.mark.django_db
MPAN_A, MPAN_B = "2100000123459", "2100000543210"


@pytest.fixture(scope="module")
def env(inbound_env: Env, django_db_blocker: Any) -> Env:
    def run() -> None:
        with tenant_context(inbound_env.tenant):
            assert all(r.ok for r in sync_channels())

    with django_db_blocker.unblock():
        committed(run)
    httpx.put(
        f"{inbound_env.sandbox_url}/admin/mpans/{MPAN_B}",
        headers=ADMIN,
        json={"gsp": "_K", "SUP": ACME, "SDS": BRIGHTWATT},
    ).raise_for_status()
    return inbound_env


def in_tenant(env: Env, fn: Any) -> Any:
    def run() -> Any:
        with tenant_context(env.tenant):
            return fn()

    return committed(run)


def admin(env: Env) -> User:
    """The client admin of this environment's own tenant."""
    return User.objects.get(
        memberships__tenant=env.tenant,
        memberships__role="client_admin",
        email__endswith="@inbound.example",
    )


def make_endpoint(env: Env, path: str, **kw: Any) -> tuple[int, str]:
    def run() -> tuple[int, str]:
        with tenant_context(env.tenant):
            made = endpoints.create_endpoint(
                name=path, url=env.client.url + path, actor=admin(env), **kw
            )
        return made.endpoint.pk, made.secret

    return committed(run)


def stop_endpoint(env: Env, pk: int) -> None:
    in_tenant(env, lambda: ClientEndpoint.objects.filter(pk=pk).update(state="paused"))


def deliver(env: Env, per_mpan: int) -> list[str]:
    """Send through the sandbox (DCP for Brightwatt → Acme by MPAN); returns the SURs."""
    surs: list[str] = []
    for mpan in (MPAN_A, MPAN_B):
        for m in if021(per_mpan, mpan=mpan):
            reply = send(env.sandbox_url, env.pki.dcp, [m])
            assert reply.status_code == 201, reply.text
            surs.append(m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"])
    wait_for(
        lambda: (
            in_tenant(env, lambda: Message.objects.filter(sender_unique_reference__in=surs).count())
            == len(surs)
        )
    )
    return surs


def run_pipeline(env: Env, surs: list[str], endpoint_id: int | None = None) -> None:
    def run() -> None:
        with tenant_context(env.tenant):
            ids = list(
                Message.objects.filter(sender_unique_reference__in=surs).values_list(
                    "id", flat=True
                )
            )
            processing.process_messages(ids)
            status.send_due_status_replies()
            push.enqueue_new_events()
            if endpoint_id is not None:
                push.push_endpoint(endpoint_id)

    committed(run)


def states(env: Env, surs: list[str]) -> set[str]:
    return set(
        in_tenant(
            env,
            lambda: list(
                Message.objects.filter(sender_unique_reference__in=surs).values_list(
                    "state", flat=True
                )
            ),
        )
    )


def test_validated_status_sent_and_pushed_in_mpan_order(env: Env) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:6]}"
    endpoint_id, secret = make_endpoint(env, path)
    env.client.secret = secret
    surs = deliver(env, per_mpan=3)
    run_pipeline(env, surs, endpoint_id)
    stop_endpoint(env, endpoint_id)

    got = env.client.events(path)
    assert len(got) == 6 and all(ok for _, ok, _ in got)
    assert len({wid for _, _, wid in got}) == 6
    assert {e["data"]["sender_unique_reference"] for e, _, _ in got} == set(surs)
    assert all(e["data"]["message"]["payload"]["CommonBlock"]["D0"] for e, _, _ in got)
    for mpan in (MPAN_A, MPAN_B):
        seqs = [e["data"]["seq"] for e, _, _ in got if e["data"]["mpan_core"] == mpan]
        assert seqs == sorted(seqs)
    assert states(env, surs) == {"delivered"}

    replies = in_tenant(
        env, lambda: list(StatusReply.objects.filter(message__sender_unique_reference__in=surs))
    )
    # No issue, default policy (issues only): the choice is recorded, no RCP0000 is sent.
    assert len(replies) == 6 and {r.state for r in replies} == {"withheld"}
    assert {(r.code, r.mode) for r in replies} == {("RCP0000", "issues_only")}
    txns = [r.body["transactionID"] for r in replies]
    marks = ",".join("?" * len(txns))
    seen = env.sb.store.scalar(
        f"SELECT COUNT(*) FROM status_messages WHERE level = 'L4' AND sender_id = '{ACME}' AND transaction_id IN ({marks})",
        tuple(txns),
    )
    assert seen == 0


def test_a_failing_event_holds_back_its_mpan_only(env: Env) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:6]}"
    endpoint_id, secret = make_endpoint(env, path)
    env.client.secret = secret
    surs = deliver(env, per_mpan=2)

    def first_a_not_due() -> None:
        with tenant_context(env.tenant):
            push.enqueue_new_events()
            ep = ClientEndpoint.objects.get(pk=endpoint_id)
            first = ep.deliveries.filter(mpan_core=MPAN_A).order_by("seq").first()
            first.next_attempt_at = timezone.now() + timedelta(hours=1)
            first.save()

    in_tenant(
        env,
        lambda: processing.process_messages(
            Message.objects.filter(sender_unique_reference__in=surs).values_list("id", flat=True)
        ),
    )
    in_tenant(env, first_a_not_due)
    in_tenant(env, lambda: push.push_endpoint(endpoint_id))
    got = env.client.events(path)
    assert {e["data"]["mpan_core"] for e, _, _ in got} == {MPAN_B}
    assert len(got) == 2


def test_endpoint_down_waits_pauses_and_resumes_without_loss(env: Env, settings: Any) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:6]}"
    endpoint_id, secret = make_endpoint(env, path)
    env.client.secret = secret
    env.client.fail_paths.add(path)
    surs = deliver(env, per_mpan=2)
    run_pipeline(env, surs, endpoint_id)
    assert env.client.events(path) == []

    def age_failure() -> None:  # a day of failures later
        with tenant_context(env.tenant):
            past = timezone.now() - timedelta(hours=25)
            ClientEndpoint.objects.filter(pk=endpoint_id).update(
                failing_since=past, last_failure_at=past
            )
            ep = ClientEndpoint.objects.get(pk=endpoint_id)
            ep.deliveries.update(next_attempt_at=past)
            push.push_endpoint(endpoint_id)

    in_tenant(env, age_failure)
    ep = in_tenant(env, lambda: ClientEndpoint.objects.get(pk=endpoint_id))
    assert ep.state == "paused" and "failing since" in ep.pause_reason
    pending = in_tenant(env, lambda: ep.deliveries.filter(state="pending").count())
    assert pending == 4

    env.client.fail_paths.discard(path)
    in_tenant(env, lambda: endpoints.resume_endpoint(endpoint=ep, actor=admin(env)))
    in_tenant(env, lambda: push.push_endpoint(endpoint_id))
    got = env.client.events(path)
    assert len(got) == 4 and all(ok for _, ok, _ in got)
    stop_endpoint(env, endpoint_id)


def test_rotation_signs_with_both_secrets_during_the_overlap(env: Env) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:6]}"
    endpoint_id, old = make_endpoint(env, path)
    ep = in_tenant(env, lambda: ClientEndpoint.objects.get(pk=endpoint_id))
    new = in_tenant(env, lambda: endpoints.rotate_secret(endpoint=ep, actor=admin(env))).secret
    env.client.secret = old  # a client that has not switched yet
    surs = deliver(env, per_mpan=1)
    run_pipeline(env, surs, endpoint_id)
    got = env.client.received[-1]
    headers, body = got[0], got[1]
    assert push.verify(old, headers, body) and push.verify(new, headers, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    stop_endpoint(env, endpoint_id)


def test_rejected_message_gets_exception_and_rejection_status(env: Env) -> None:
    from dip.envelope import serialise_batch
    from tests.messaging.inbound.test_webhook import delivered_item, post

    txn = f"REJ-{uuid.uuid4().hex[:8]}"
    item = delivered_item(txn)
    item["payload"]["CommonBlock"]["S1"]["environmentTag"] = "PRD"  # wrong environment: L3/L4
    assert post(env, serialise_batch([item])).status_code == 201  # accepted at the edge

    def run() -> tuple[str, list[str], str]:
        with tenant_context(env.tenant):
            m = Message.objects.get(transaction_id=txn)
            processing.process_messages([m.pk])
            m.refresh_from_db()
            cats = list(
                MessageException.objects.filter(message=m).values_list("category", flat=True)
            )
            return m.state, cats, StatusReply.objects.get(message=m).code

    state, cats, code = in_tenant(env, run)
    assert state == "rejected" and code == "RCP1004" and "business_rule" in cats


def test_feed_api_pages_and_acknowledges(env: Env, host_client: Any) -> None:
    surs = deliver(env, per_mpan=1)
    in_tenant(
        env,
        lambda: processing.process_messages(
            Message.objects.filter(sender_unique_reference__in=surs).values_list("id", flat=True)
        ),
    )
    user = in_tenant(env, lambda: admin(env))
    client = host_client(env.tenant, user)
    first = client.get("/api/v1/feed/?after=0&limit=500").json()
    mine = [e for e in first["events"] if e["data"]["sender_unique_reference"] in surs]
    assert len(mine) == 2 and all("message" in e["data"] for e in mine)
    upto = max(e["seq"] for e in mine)
    second = client.get(f"/api/v1/feed/?after={upto}").json()
    assert all(e["seq"] > upto for e in second["events"])
    assert client.get("/api/v1/feed/cursor/").json()["position"] == upto
    with tenant_context(env.tenant):  # the API ran in this test's transaction
        done = Message.objects.filter(sender_unique_reference__in=surs)
        assert {m.state for m in done} == {"delivered"}
