"""The whole onboarding journey through the REST API: tenant, MPID + role, DIP IDs (pre-approved
and approved), nomination with whitelisting, API key rotation, channels, checklist, promotion to
PRD, a trade sale moving a DIP ID to another tenant, then offboarding."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from dcpregistry.models import ChannelRoute, DcpIdAssignment
from participants.models import ApiKey, Channel, DipId, Nomination
from participants.services import rules
from tenants.models import Tenant
from tenants.roles import ClientRole
from tests.factories import member, staff

pytestmark = pytest.mark.django_db(transaction=False)


def ok(resp, status=200):
    assert resp.status_code == status, (resp.status_code, resp.content[:500])
    return resp.json() if resp["Content-Type"].startswith("application/json") else resp


def err(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.content[:500])
    body = resp.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code, body
    return body


def test_full_journey(host_client, dcp_admin, tenant_a):
    platform = host_client(None, dcp_admin)
    # 1. DCP staff create the tenant and get our DCP status and DCP IDs ready.
    ok(platform.post("/api/v1/tenants/", {"name": "Gamma Power", "slug": "gamma"}), 201)
    gamma = Tenant.objects.get(slug="gamma")
    for env in ("UIT", "PRD"):
        ok(platform.post("/api/v1/dcp-status/request/", {"environment": env}), 201)
        ok(platform.post("/api/v1/dcp-status/decide/", {"environment": env, "approve": True}))
    uit_ids = ok(platform.post("/api/v1/dcp-ids/", {"environment": "UIT", "count": 3}), 201)
    ok(platform.post("/api/v1/dcp-ids/", {"environment": "PRD"}), 201)
    dcp_uit = uit_ids[0]["value"]

    admin = member(gamma, ClientRole.CLIENT_ADMIN)
    viewer = member(gamma, ClientRole.CLIENT_VIEWER)
    api = host_client(gamma, admin)
    staff_api = host_client(gamma, dcp_admin)

    # 2. Company details, MPID + roles (bad input first).
    ok(
        api.put(
            "/api/v1/profile/",
            {"company_name": "Gamma Power Ltd", "company_number": "01234567"},
            content_type="application/json",
        )
    )
    err(api.post("/api/v1/mpid-roles/", {"mpid": "GA1", "role_code": "SUP"}), 400, "invalid_mpid")
    err(api.post("/api/v1/mpid-roles/", {"mpid": "GAMA", "role_code": "NOPE"}), 400, "unknown_role")
    sup = ok(api.post("/api/v1/mpid-roles/", {"mpid": "GAMA", "role_code": "SUP"}), 201)
    err(api.post("/api/v1/mpid-roles/", {"mpid": "GAMA", "role_code": "SUP"}), 400, "duplicate")
    mdr = ok(api.post("/api/v1/mpid-roles/", {"mpid": "GAMA", "role_code": "MDR"}), 201)
    assert sup["pre_approved"] and not mdr["pre_approved"]

    # 3. DIP IDs: the Supplier one is active at once; the MDR one is a request staff approve.
    sup_dip = ok(api.post("/api/v1/dip-ids/", {"mpid_role": sup["id"], "environment": "UIT"}), 201)
    assert sup_dip["status"] == "active"
    mdr_dip = ok(api.post("/api/v1/dip-ids/", {"mpid_role": mdr["id"], "environment": "UIT"}), 201)
    assert mdr_dip["status"] == "requested"
    err(api.post(f"/api/v1/dip-ids/{mdr_dip['id']}/approve/", {}), 403, "permission_denied")
    mdr_dip = ok(
        staff_api.post(f"/api/v1/dip-ids/{mdr_dip['id']}/approve/", {"value": "1700000042"})
    )
    assert mdr_dip["status"] == "active" and mdr_dip["value"] == "1700000042"
    assert ok(api.get("/api/v1/dip-ids/?status=active&environment=UIT"))["count"] == 2

    # 4. Nominate our DCP ID with domain whitelisting; one DCP ID, one DIP ID.
    nom = ok(
        api.post(
            "/api/v1/nominations/",
            {"dip_id": sup_dip["id"], "dcp_id": dcp_uit, "whitelist_domains": True},
        ),
        201,
    )
    assert nom["whitelist_domains"] and nom["status"] == "active"
    err(
        api.post("/api/v1/nominations/", {"dip_id": mdr_dip["id"], "dcp_id": dcp_uit}),
        400,
        "dcp_id_assigned",
    )
    err(
        api.post("/api/v1/nominations/", {"dip_id": mdr_dip["id"], "dcp_id": "9999999999"}),
        400,
        "unknown_dcp_id",
    )

    # 5. API keys: generate, a viewer may not rotate, rotate with overlap, retire.
    issued = ok(api.post("/api/v1/api-keys/generate/", {"dip_id": sup_dip["id"]}), 201)
    assert {k["slot"] for k in issued} == {"primary", "secondary"} and all(k["key"] for k in issued)
    assert "key" not in ok(api.get("/api/v1/api-keys/"))["results"][0]
    err(
        host_client(gamma, viewer).post(
            "/api/v1/api-keys/regenerate-secondary/", {"dip_id": sup_dip["id"]}
        ),
        403,
        "permission_denied",
    )
    ok(api.post("/api/v1/api-keys/regenerate-secondary/", {"dip_id": sup_dip["id"]}), 201)
    ok(api.post("/api/v1/api-keys/swap/", {"dip_id": sup_dip["id"]}))
    retiring = ok(api.get(f"/api/v1/api-keys/?dip_id={sup_dip['id']}&state=retiring"))["results"]
    assert len(retiring) == 1
    ok(api.post(f"/api/v1/api-keys/{retiring[0]['id']}/retire/"))
    ok(api.post("/api/v1/api-keys/regenerate-secondary/", {"dip_id": sup_dip["id"]}), 201)

    # 6. Channels: IF-002 is delivered to Suppliers; IF-061 is not.
    err(
        api.post("/api/v1/channels/", {"dip_id": sup_dip["id"], "interface_id": "IF-061"}),
        400,
        "role_not_recipient",
    )
    channel = ok(
        api.post("/api/v1/channels/", {"dip_id": sup_dip["id"], "interface_id": "IF-002"}), 201
    )
    ok(
        api.post(
            "/api/v1/channels/",
            {"dip_id": sup_dip["id"], "interface_id": "STATUS", "obfuscated": True},
        ),
        201,
    )
    assert "/dip/inbound/" in channel["webhook_url"]
    csv_text = api.get("/api/v1/channels/export/").content.decode()
    assert channel["webhook_url"] in csv_text and csv_text.startswith("dip_id,")

    with tenant_context(gamma):
        decision = rules.may_send(
            dcp_id=dcp_uit, interface_id="IF-004", dip_id=sup_dip["value"], environment="UIT"
        )
        assert decision.allowed, decision
        assert (
            rules.may_send(
                dcp_id=dcp_uit, interface_id="IF-001", dip_id=sup_dip["value"], environment="UIT"
            ).code
            == "role_not_sender"
        )
    assert ok(
        api.get(
            f"/api/v1/may-send/?dcp_id={dcp_uit}&interface_id=IF-004&dip_id={sup_dip['value']}&environment=UIT"
        )
    )["allowed"]

    # 7. Promotion is refused until the UIT checklist is complete.
    err(api.post("/api/v1/promotions/"), 400, "not_certified")
    for step in range(1, 9):
        ok(
            api.put(
                "/api/v1/checklist/",
                {"environment": "UIT", "step": step, "status": "done", "owner": admin.email},
                content_type="application/json",
            )
        )
    change_set = ok(api.post("/api/v1/promotions/"), 201)
    assert {e["dip_id"] for e in change_set["diff"]["dip_ids"]} == {sup_dip["value"], "1700000042"}
    err(api.post(f"/api/v1/promotions/{change_set['id']}/apply/"), 403, "permission_denied")
    # Four eyes: one DCP staff member approves, another applies.
    err(staff_api.post(f"/api/v1/promotions/{change_set['id']}/apply/"), 400, "four_eyes")
    ok(staff_api.post(f"/api/v1/promotions/{change_set['id']}/approve/"))
    err(staff_api.post(f"/api/v1/promotions/{change_set['id']}/apply/"), 400, "four_eyes")
    second_api = host_client(gamma, staff())
    assert (
        ok(second_api.post(f"/api/v1/promotions/{change_set['id']}/apply/"))["status"] == "applied"
    )
    prd = ok(api.get("/api/v1/dip-ids/?environment=PRD"))["results"]
    assert {d["value"] for d in prd} == {sup_dip["value"], "1700000042"}
    with tenant_context(gamma):
        prd_sup = DipId.objects.get(environment="PRD", value=sup_dip["value"])
        assert prd_sup.channels.count() == 2 and not prd_sup.api_keys.exists()
        assert Nomination.objects.filter(dip_id=prd_sup, status="active").exists()

    # 8. Trade sale: the Supplier DIP ID moves to alpha, keeping its webhook URLs and DCP ID.
    moved = ok(
        platform.post(
            "/api/v1/transfers/",
            {
                "source": "gamma",
                "target": "alpha",
                "dip_ids": [sup_dip["value"]],
                "cutover_at": timezone.now().isoformat(),
            },
            content_type="application/json",
        ),
        201,
    )
    done = ok(platform.post(f"/api/v1/transfers/{moved['id']}/execute/"))
    assert done["status"] == "completed"
    with tenant_context(gamma):
        assert DipId.objects.get(environment="UIT", value=sup_dip["value"]).status == "transferred"
        assert not Channel.objects.filter(dip_id__value=sup_dip["value"], enabled=True).exists()
    with tenant_context(tenant_a):
        got = DipId.objects.get(environment="UIT", value=sup_dip["value"])
        assert got.status == "active"
        assert got.channels.filter(
            token=Channel.objects.filter(dip_id=got, interface_id="IF-002").get().token
        ).exists()
        assert got.nominations.get(status="active").dcp_id == dcp_uit
    route = ChannelRoute.objects.get(token=channel["webhook_url"].rstrip("/").rsplit("/", 1)[1])
    assert route.tenant == tenant_a
    assert DcpIdAssignment.objects.get(dcp_id__value=dcp_uit, active=True).tenant == tenant_a

    # 9. Offboarding gamma: nominations revoked, channels disabled, keys retired, export.
    ok(platform.post("/api/v1/onboarding/gamma/offboard/", {"reason": "contract ended"}))
    gamma.refresh_from_db()
    assert gamma.status == Tenant.Status.OFFBOARDING
    with tenant_context(gamma):
        assert not Nomination.objects.filter(status="active").exists()
        assert not Channel.objects.filter(enabled=True).exists()
        assert not ApiKey.objects.exclude(state="retired").exists()
    export = ok(platform.get("/api/v1/onboarding/gamma/export/"))
    assert len(export["sha256"]) == 64
    assert any(e["action"] == "tenant.offboarding" for e in export["export"]["audit"])
    assert all("sealed" not in k for k in export["export"]["api_keys"])
    board = ok(platform.get("/api/v1/onboarding/"))
    assert {r["slug"] for r in board} >= {"alpha", "beta", "gamma"}
