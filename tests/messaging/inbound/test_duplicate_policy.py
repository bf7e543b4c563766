"""Inbound duplicates: the tenant's policy (API and page, permissions, audit) and the cost of
the checks (each look-up can go by its index). The path itself: test_duplicates.py."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from dip.samples import make_mpan_core
from messaging.inbound import duplicates
from messaging.inbound.models import DuplicatePolicy
from messaging.models import Message
from tests.factories import member
from tests.messaging.inbound.test_duplicates import deliver, process, txn
from tests.messaging.inbound.test_pipeline import admin, in_tenant
from tests.messaging.inbound.test_pipeline import env as env  # the synced environment
from tests.messaging.inbound.test_webhook import delivered_item

pytestmark = pytest.mark.django_db


def test_the_duplicate_policy_api_is_permissioned_and_audited(env: Any, host_client: Any) -> None:
    user = in_tenant(env, lambda: admin(env))
    viewer = in_tenant(
        env,
        lambda: member(env.tenant, "client_viewer", email=f"v-{uuid.uuid4().hex[:6]}@x.example"),
    )
    api = host_client(env.tenant, user)
    assert api.get("/api/v1/duplicate-policy/").json()["deliver_content_duplicates"] is True
    assert (
        api.put("/api/v1/duplicate-policy/", {}, content_type="application/json").status_code == 400
    )
    bad = api.put(
        "/api/v1/duplicate-policy/",
        {"deliver_content_duplicates": "sometimes"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    looker = host_client(env.tenant, viewer)
    assert looker.get("/api/v1/duplicate-policy/").status_code == 200
    refused = looker.put(
        "/api/v1/duplicate-policy/",
        {"deliver_content_duplicates": False},
        content_type="application/json",
    )
    assert refused.status_code == 403
    done = api.put(
        "/api/v1/duplicate-policy/",
        {"deliver_content_duplicates": False},
        content_type="application/json",
    )
    assert done.status_code == 200 and done.json()["deliver_content_duplicates"] is False
    with tenant_context(env.tenant):  # the API ran in this test's transaction
        assert DuplicatePolicy.objects.get().updated_by == user.email
        event = AuditEvent.objects.filter(action="duplicate_policy.set").latest("seq")
        assert event.changes["deliver_content_duplicates"] == [True, False]


def test_the_duplicates_page_shows_and_changes_the_policy(env: Any, host_client: Any) -> None:
    user = in_tenant(env, lambda: admin(env))
    client = host_client(env.tenant, user)
    url = "/messages/endpoints/duplicates/"
    page = client.get(url).content.decode()
    assert "delivered to you, flagged" in page and "RCP1006" in page
    assert client.post(url, {"suspected": "sometimes"}).status_code == 302  # refused, unchanged
    with tenant_context(env.tenant):
        assert duplicates.holds_content_duplicates() is False
    assert client.post(url, {"suspected": "hold"}).status_code == 302
    assert "held, not delivered" in client.get(url).content.decode()
    with tenant_context(env.tenant):  # the page ran in this test's transaction
        assert duplicates.holds_content_duplicates() is True


def test_the_lookups_can_use_their_indexes(env: Any) -> None:
    """The checks run per processed message: each must be able to go by a selective index
    (``msg_sur``, the partial ``msg_payload_digest``) rather than scan the table."""
    t = txn()
    deliver(env, delivered_item(t, mpan=make_mpan_core(random.Random())))
    process(env, [t])

    def plans() -> tuple[str, str]:
        from django.db import connection, transaction

        m = Message.objects.get(transaction_id=t)
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
            sur = duplicates.reference_candidates(m).order_by().explain()
            digest = duplicates.content_candidates(m, m.payload_digest).order_by().explain()
        return sur, digest

    sur, digest = in_tenant(env, plans)
    assert "msg_sur" in sur, sur
    assert "msg_payload_digest" in digest, digest
