"""Inbound bulk actions with the real DIP sandbox: ``replay_inbound`` asks the DIP (its requeue
API, at most 100 transaction IDs per call) to deliver 102 messages to our webhook again — the
sandbox re-delivers them with ``replayIndicator`` and we count them as duplicates;
``redeliver_inbound`` pushes them to the client's endpoint again; the workbench asks for one;
a dry run changes nothing and a viewer is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from console import replay, search, services
from console.models import BulkAction
from messaging.inbound import endpoints
from messaging.models import ExceptionCategory, Message, MessageException
from messaging.states import Direction
from tenants.roles import ClientRole
from tests.factories import member
from tests.messaging.inbound.conftest import (  # noqa: F401 (fixtures)
    Env,
    client_system,
    inbound_env,
    pki,
    wait_for,
)
from tests.messaging.inbound.test_pipeline import (
    admin,
    deliver,
    in_tenant,
    run_pipeline,
)
from tests.messaging.inbound.test_pipeline import env as env

pytestmark = pytest.mark.django_db
PER_MPAN = 51  # 102 messages: more than one DIP call's 100 transaction IDs


@pytest.fixture(scope="module")
def surs(env: Env, django_db_blocker: Any) -> list[str]:
    with django_db_blocker.unblock():
        return deliver(env, PER_MPAN)


def mine(surs: list[str]) -> search.SearchQuery:
    """Every inbound message of this module's own tenant (only ``surs`` are there)."""
    return search.SearchQuery(direction=Direction.INBOUND)


def duplicates(env: Env, surs: list[str]) -> int:
    return sum(
        in_tenant(
            env,
            lambda: list(
                Message.objects.filter(sender_unique_reference__in=surs).values_list(
                    "duplicate_count", flat=True
                )
            ),
        )
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of transaction IDs of each DIP requeue call."""
    made: list[int] = []
    real = replay._requeue

    def counting(client: Any, spec: str, iid: str, dip_id: str, ids: tuple[str, ...]) -> Any:
        made.append(len(ids))
        return real(client, spec, iid, dip_id, ids)

    monkeypatch.setattr(replay, "_requeue", counting)
    return made


def test_dry_run_changes_nothing(env: Env, surs: list[str], calls: list[int]) -> None:
    before = duplicates(env, surs)
    preview = in_tenant(env, lambda: services.dry_run(kind="replay_inbound", query=mine(surs)))
    assert preview.eligible.value == len(surs) == 2 * PER_MPAN
    assert "requeue API" in preview.effect
    assert in_tenant(env, lambda: BulkAction.objects.count()) == 0
    assert calls == [] and duplicates(env, surs) == before
    # An outbound search offers only the outbound kind, an inbound one only inbound kinds.
    assert [k for k, _ in services.kinds_for("outbound")] == ["requeue_outbound"]
    assert [k for k, _ in services.kinds_for("inbound")] == ["replay_inbound", "redeliver_inbound"]


def test_replay_inbound_chunks_dip_calls_and_the_dip_redelivers(
    env: Env,
    surs: list[str],
    calls: list[int],
) -> None:
    before = duplicates(env, surs)

    def run() -> BulkAction:
        with tenant_context(env.tenant):
            action = services.start_bulk(
                kind=BulkAction.Kind.REPLAY_INBOUND,
                query=mine(surs),
                user=admin(env),
                enqueue=False,
            )
            return services.run_bulk(action.pk, sleep=lambda s: None)

    done = in_tenant(env, run)
    assert done.status == BulkAction.Status.DONE, done.report
    assert (done.total, done.succeeded, done.skipped) == (len(surs), len(surs), 0)
    assert sorted(calls) == [2, 100]  # 102 ids: two DIP calls, none above 100
    chunks = done.report["chunks"]
    assert done.report["chunk_count"] == 2 and all(c["ok"] for c in chunks), chunks
    assert {c["interface_id"] for c in chunks} == {"IF-021"}
    # The sandbox delivers them again (replayIndicator); our webhook counts the duplicates.
    wait_for(lambda: duplicates(env, surs) >= before + len(surs), timeout=20)

    def audited() -> list[dict[str, Any]]:
        from audit.models import AuditEvent

        with tenant_context(env.tenant):
            return list(
                AuditEvent.objects.filter(action="console.inbound.replay_requested").values_list(
                    "changes", flat=True
                )
            )

    (event,) = audited()
    assert event["count"] == len(surs) and len(event["sample"]) == replay.SAMPLE
    assert event["dip_calls"] == 2 and event["failed_calls"] == 0


def test_redeliver_inbound_pushes_to_the_client_endpoint_again(env: Env, surs: list[str]) -> None:
    def make_endpoint() -> tuple[int, str]:
        # a dedicated endpoint for this test (test_pipeline.make_endpoint names its own path)
        with tenant_context(env.tenant):
            made = endpoints.create_endpoint(
                name="replay-hook", url=env.client.url + "/replay-hook", actor=admin(env)
            )
        return made.endpoint.pk, made.secret

    endpoint_id, secret = in_tenant(env, make_endpoint)
    env.client.secret = secret
    run_pipeline(env, surs, endpoint_id)
    first = len(env.client.events("/replay-hook"))
    assert first >= len(surs)

    def run() -> BulkAction:
        with tenant_context(env.tenant):
            action = services.start_bulk(
                kind=BulkAction.Kind.REDELIVER_INBOUND,
                query=mine(surs),
                user=admin(env),
                enqueue=False,
            )
            return services.run_bulk(action.pk, sleep=lambda s: None)

    done = in_tenant(env, run)
    assert done.status == BulkAction.Status.DONE and done.succeeded == len(surs), done.report
    run_pipeline(env, surs, endpoint_id)
    again = env.client.events("/replay-hook")
    assert len(again) >= 2 * first
    assert all(ok for _, ok, _ in again)  # signed as before, same webhook-ids
    assert {w for _, _, w in again[first:]} <= {w for _, _, w in again[:first]}


def test_workbench_asks_the_dip_to_replay_one_message(
    env: Env,
    surs: list[str],
    calls: list[int],
    host_client: Any,
) -> None:
    def exception() -> MessageException:
        with tenant_context(env.tenant):
            message = Message.objects.get(sender_unique_reference=surs[0])
            return MessageException.objects.create(
                message=message,
                category=ExceptionCategory.choices[0][0],
                summary="replay me",
                opened_at=timezone.now(),
            )

    exc = in_tenant(env, exception)
    client = host_client(env.tenant, in_tenant(env, lambda: admin(env)))
    response = client.post(f"/console/exceptions/{exc.pk}/dip_replay/", {"reason": "lost"})
    assert response.status_code == 302
    assert calls == [1]


def test_viewer_cannot_start_an_inbound_bulk_action(env: Env, host_client: Any) -> None:
    before = in_tenant(env, lambda: BulkAction.objects.count())
    viewer = in_tenant(env, lambda: member(env.tenant, ClientRole.CLIENT_VIEWER))
    client = host_client(env.tenant, viewer)
    for kind in ("replay_inbound", "redeliver_inbound"):
        response = client.post("/console/bulk/new/?direction=inbound", {"kind": kind})
        assert response.status_code == 403
    assert in_tenant(env, lambda: BulkAction.objects.count()) == before
