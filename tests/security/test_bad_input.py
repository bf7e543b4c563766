"""Never 5xx on bad input (issue 17): the five inputs that used to raise inside a view now get a
400 in the API's one error format, and a normal client call that leaves an optional field out
works."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from dcpregistry import services as registry
from participants.models import ChecklistItem, Nomination
from participants.services import dip_ids
from tenants.roles import ClientRole
from tests.conftest import HostClient, host_of
from tests.factories import member, staff

pytestmark = pytest.mark.django_db


def _client(tenant: Any, user: Any) -> HostClient:
    # raise_request_exception=False: a crash must show as the 500 a caller would get.
    client = HostClient(host_of(tenant), raise_request_exception=False)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _refused(resp: Any, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == 400, (resp.status_code, resp.content[:300])
    body = resp.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == "invalid", body
    assert body["message"]
    if field is not None:
        assert field in body["details"], body
    return body


@pytest.fixture
def admin_a(tenant_a: Any) -> Any:
    return member(tenant_a, ClientRole.CLIENT_ADMIN)


@pytest.fixture
def operator_a(tenant_a: Any) -> Any:
    return member(tenant_a, ClientRole.CLIENT_OPERATOR)


def test_nomination_without_whitelist_domains_is_a_normal_call(tenant_a, admin_a):
    dcp_admin = staff()
    registry.request_dcp_status(environment="UIT", actor=dcp_admin)
    registry.decide_dcp_status(environment="UIT", approve=True, actor=dcp_admin)
    dcp_id = registry.create_dcp_ids(environment="UIT", count=1, actor=dcp_admin)[0].value
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="ALFA", role_code="SUP", actor=admin_a)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin_a)
    api = _client(tenant_a, admin_a)
    # JSON, as a client system sends it (a form post reads a missing checkbox as false).
    resp = api.post(
        "/api/v1/nominations/",
        {"dip_id": dip.pk, "dcp_id": dcp_id},
        content_type="application/json",
    )
    assert resp.status_code == 201, resp.content[:300]
    assert resp.json()["whitelist_domains"] is False
    with tenant_context(tenant_a):
        assert Nomination.objects.get(pk=resp.json()["id"]).whitelist_domains is False
    _refused(
        api.post(
            "/api/v1/nominations/",
            {"dip_id": dip.pk, "dcp_id": dcp_id, "whitelist_domains": "maybe"},
            content_type="application/json",
        ),
        "whitelist_domains",
    )
    _refused(api.post("/api/v1/nominations/", {"dcp_id": dcp_id}), "dip_id")


def test_checklist_put_without_status_is_refused(tenant_a, admin_a):
    api = _client(tenant_a, admin_a)
    body = _refused(
        api.put(
            "/api/v1/checklist/",
            {"environment": "UIT", "step": 1},
            content_type="application/json",
        ),
        "status",
    )
    assert "required" in str(body["details"]["status"])
    _refused(
        api.put(
            "/api/v1/checklist/",
            {"environment": "UIT", "step": 99, "status": "done"},
            content_type="application/json",
        ),
        "step",
    )
    _refused(
        api.put("/api/v1/checklist/", [None], content_type="application/json"),
    )
    ok = api.put(
        "/api/v1/checklist/",
        {"environment": "UIT", "step": 1, "status": "done"},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["status"] == "done"
    # The same step again is an update, not a uniqueness error.
    again = api.put(
        "/api/v1/checklist/",
        {"environment": "UIT", "step": 1, "status": "in_progress", "owner": "ops"},
        content_type="application/json",
    )
    assert again.status_code == 200, again.content[:300]
    with tenant_context(tenant_a):
        item = ChecklistItem.objects.get(environment="UIT", step=1)
        assert item.status == "in_progress" and item.owner == "ops"


@pytest.mark.parametrize("body", [[None, None], [], "x", 3, None])
def test_console_search_body_must_be_an_object(tenant_a, operator_a, body):
    api = _client(tenant_a, operator_a)
    _refused(api.post("/api/v1/console/search/", json.dumps(body), content_type="application/json"))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "abc"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"after": "abc"}, "after"),
        ({"direction": "sideways"}, "direction"),
    ],
)
def test_console_search_bad_parameters_name_the_field(tenant_a, operator_a, params, field):
    api = _client(tenant_a, operator_a)
    _refused(api.get("/api/v1/console/search/", params), field)
    _refused(api.post("/api/v1/console/search/", params, content_type="application/json"), field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"chunk_size": "abc", "dry_run": False}, "chunk_size"),
        ({"chunk_size": "abc"}, "chunk_size"),
        ({"search": "x", "dry_run": True}, "search"),
        ({"search": {"direction": "sideways"}}, "search"),
        ({"rate_per_second": -1, "dry_run": False}, "rate_per_second"),
        ({"kind": "delete_everything"}, "kind"),
        ({"dry_run": "perhaps"}, "dry_run"),
    ],
)
def test_console_bulk_action_bad_input_is_refused(tenant_a, operator_a, body, field):
    api = _client(tenant_a, operator_a)
    _refused(
        api.post("/api/v1/console/bulk-actions/", body, content_type="application/json"), field
    )


@pytest.mark.parametrize("body", [[None, None], "x"])
def test_console_bulk_action_body_must_be_an_object(tenant_a, operator_a, body):
    api = _client(tenant_a, operator_a)
    resp = api.post(
        "/api/v1/console/bulk-actions/", json.dumps(body), content_type="application/json"
    )
    _refused(resp)
