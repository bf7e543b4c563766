"""Reconciliation pages and API, download links, auditor access, storage faults, retention."""

from __future__ import annotations

import zipfile
from datetime import timedelta
from io import BytesIO
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from audit.models import AuditEvent
from evidence import services, verify
from evidence.keys import public_key_pem
from evidence.models import EvidencePack, InterfacePair
from messaging.states import Direction
from tenants.roles import ClientRole
from tests.evidence.conftest import DAY, at, new_message
from tests.factories import member, staff

pytestmark = pytest.mark.django_db
Q = f"?start={DAY}&end={DAY + timedelta(days=2)}"


def _ready_pack(tenant: Any, user: Any) -> EvidencePack:
    with tenant_context(tenant):
        pack = services.request_pack(
            tenant=tenant, actor=user, period_start=DAY, period_end=timezone.localdate()
        )
        services.build(pack.pk, tenant_slug=tenant.slug, tenant_name=tenant.name)
        pack.refresh_from_db()
    return pack


def test_operational_page_api_and_csv(tenant_a, seeded, host_client):
    auditor = member(tenant_a, ClientRole.AUDITOR)
    client = host_client(tenant_a, auditor)
    page = client.get(f"/evidence/{Q}")
    assert page.status_code == 200 and b'data-testid="operational"' in page.content
    api = client.get(f"/api/v1/evidence/reconciliation/operational/{Q}").json()
    totals = {k: sum(r[k] for r in api["rows"]) for k in ("sent", "acknowledged", "settled")}
    assert totals == {"sent": 6, "acknowledged": 6, "settled": 2}
    assert len(api["differences"]) == 4  # accepted, not settled
    csv = b"".join(client.get(f"/evidence/{Q}&export=csv").streaming_content).decode()
    assert csv.splitlines()[0].startswith("day,interface_id,sent")


def test_business_process_overdue(tenant_a, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant_a):
        services.add_pair(
            actor=admin,
            request_interface_id="IF-031",
            response_interface_id="IF-032",
            limit_minutes=60,
        )
        new_message(
            created=at(DAY, 9),
            interface_id="IF-031",
            mpan_core="1100000000001",
            sender_unique_reference="R1",
        )
        new_message(
            created=at(DAY, 9),
            interface_id="IF-031",
            mpan_core="1100000000002",
            sender_unique_reference="R2",
        )
        new_message(
            created=at(DAY, 9) + timedelta(minutes=30),
            interface_id="IF-032",
            mpan_core="1100000000001",
            direction=Direction.INBOUND,
            transaction_id="T-R1",
        )
    client = host_client(tenant_a, admin)
    data = client.get(f"/api/v1/evidence/reconciliation/business/{Q}").json()["pairs"][0]
    assert (data["requests"], data["answered"], data["overdue"]) == (2, 1, 1)
    assert b"IF-031 \xe2\x86\x92 IF-032" in client.get(f"/evidence/business/{Q}").content


def test_assurance_hash_totals_and_lineage(tenant_a, seeded, host_client):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    client = host_client(tenant_a, user)
    rows = client.get(f"/api/v1/evidence/reconciliation/assurance/{Q}").json()["rows"]
    assert sum(r["messages"] for r in rows) == 7
    assert all(len(r["raw_hash_total"]) == 64 for r in rows)
    inbound = next(r for r in rows if r["direction"] == "inbound")
    assert inbound["with_transaction_id"] == 1
    page = client.get(f"/evidence/assurance/{Q}&dip_transaction_ids=TX-EV-1%0ATX-MISSING")
    assert b"TX-MISSING" in page.content
    lineage = client.get(f"/api/v1/evidence/messages/{seeded[0].public_id}/lineage/").json()
    stages = [s["stage"] for s in lineage["steps"]]
    assert stages[:2] == ["raw", "parsed"] and "transition" in stages and "audit" in stages
    assert client.get(f"/evidence/lineage/{seeded[0].public_id}/").status_code == 200


def test_download_link_expires_and_every_download_is_audited(
    tenant_a, seeded, evidence_media, host_client
):
    auditor = member(tenant_a, ClientRole.AUDITOR)
    pack = _ready_pack(tenant_a, auditor)
    client = host_client(tenant_a, auditor)
    link = client.post(f"/api/v1/evidence/packs/{pack.public_id}/link/").json()["url"]
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.get(f"/{path}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    with open(evidence_media / "dl.zip", "wb") as fh:
        fh.write(body)
    assert verify.verify_pack(str(evidence_media / "dl.zip"), public_key_pem().encode()).ok
    with tenant_context(tenant_a):
        assert (
            AuditEvent.objects.filter(
                action="evidence.pack_downloaded", target_id=str(pack.pk), actor_id=auditor.pk
            ).count()
            == 1
        )
    # Another user cannot use the link; after max_age it is expired with a clear page.
    other = member(tenant_a, ClientRole.CLIENT_ADMIN)
    assert host_client(tenant_a, other).get(f"/{path}").status_code == 404
    later = timezone.now() + timedelta(seconds=services.link_max_age() + 5)
    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        expired = client.get(f"/{path}")
    assert expired.status_code == 410 and b"expired" in expired.content


def test_auditor_permissions(tenant_a, tenant_b, seeded, host_client):
    auditor = member(tenant_a, ClientRole.AUDITOR)
    viewer = member(tenant_a, ClientRole.CLIENT_VIEWER)
    a = host_client(tenant_a, auditor)
    assert a.get("/evidence/packs/").status_code == 200
    assert a.post("/evidence/business/pairs/", {"request_interface_id": "IF-1"}).status_code == 403
    assert host_client(tenant_a, viewer).get("/evidence/").status_code == 403
    assert (
        host_client(tenant_a, viewer)
        .get("/api/v1/evidence/reconciliation/operational/")
        .status_code
        == 403
    )
    # Tenant B never granted this auditor access: 404 there, and the refusal is audited.
    assert host_client(tenant_b, auditor).get("/evidence/").status_code == 404
    platform = host_client(None, auditor)
    assert platform.post("/evidence/access/beta/").status_code == 404
    with schema_context("public"):
        assert AuditEvent.objects.filter(
            action="evidence.access_denied", actor_id=auditor.pk, target_repr="beta"
        ).exists()
    granted = platform.post("/evidence/access/alpha/")
    assert granted.status_code == 302 and "/evidence/" in granted["Location"]
    # DCP staff reach every tenant's evidence.
    assert host_client(tenant_b, staff()).get("/evidence/packs/").status_code == 200


def test_pack_page_flow(tenant_a, evidence_media, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    client = host_client(tenant_a, admin)
    with mock.patch("evidence.tasks.build_pack.delay") as delay:
        response = client.post(
            "/evidence/packs/",
            {"kind": "standard", "start": DAY, "end": DAY + timedelta(days=1)},
        )
    assert response.status_code == 302
    assert delay.call_count in (0, 1)  # on_commit does not fire inside the test transaction
    pack_url = response["Location"]
    assert b"Pending" in client.get(pack_url).content
    bad = client.post(
        "/evidence/packs/", {"kind": "standard", "start": DAY, "end": DAY - timedelta(days=1)}
    )
    assert bad.status_code == 200 and b"ends before it starts" in bad.content


def test_storage_unavailable_is_retried_and_shown(tenant_a, seeded, evidence_media):
    from evidence import tasks

    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant_a):
        pack = services.request_pack(tenant=tenant_a, actor=admin, period_start=DAY, period_end=DAY)
        with (
            mock.patch(
                "evidence.services.default_storage.save", side_effect=OSError("bucket down")
            ),
            pytest.raises(Exception) as raised,
        ):
            tasks.build_pack.apply(args=[pack.pk], throw=True)
        assert "Retry" in type(raised.value).__name__
        pack.refresh_from_db()
        assert pack.status == EvidencePack.Status.RETRYING and "bucket down" in pack.error
        tasks.build_pack.apply(args=[pack.pk], throw=True)
        pack.refresh_from_db()
        assert pack.status == EvidencePack.Status.READY


def test_s3_storage_with_moto(tenant_a, seeded, settings):
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        boto3.client("s3", region_name="eu-west-2").create_bucket(
            Bucket="evidence-test", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "evidence-test", "region_name": "eu-west-2"},
            },
        }
        admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
        pack = _ready_pack(tenant_a, admin)
        assert pack.status == EvidencePack.Status.READY
        obj = boto3.client("s3", region_name="eu-west-2").get_object(
            Bucket="evidence-test", Key=pack.storage_name
        )
        data = obj["Body"].read()
        assert zipfile.ZipFile(BytesIO(data)).testzip() is None
        with tenant_context(tenant_a):
            assert services.delete_expired_packs(now=pack.expires_at + timedelta(seconds=1)) == 1
        with pytest.raises(Exception):
            boto3.client("s3", region_name="eu-west-2").head_object(
                Bucket="evidence-test", Key=pack.storage_name
            )


def test_retention_deletes_expired_packs_audited_and_protects_messages(
    tenant_a, seeded, evidence_media
):
    from messaging.models import Message

    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    pack = _ready_pack(tenant_a, admin)
    with tenant_context(tenant_a):
        protected = services.protect_packed_messages(Message.objects.all())
        assert protected.count() == 7
        assert services.delete_expired_packs() == 0
        assert services.delete_expired_packs(now=pack.expires_at + timedelta(seconds=1)) == 1
        pack.refresh_from_db()
        assert pack.status == EvidencePack.Status.DELETED
        assert AuditEvent.objects.filter(action="evidence.pack_deleted").exists()
        assert not services.protect_packed_messages(Message.objects.all()).exists()


def test_certification_pack(tenant_a, seeded, evidence_media):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant_a):
        pack = services.request_pack(
            tenant=tenant_a,
            actor=admin,
            kind="certification",
            period_start=DAY,
            period_end=timezone.localdate(),
            interfaces=["IF-036", "IF-021"],
        )
        services.build(pack.pk, tenant_slug=tenant_a.slug, tenant_name=tenant_a.name)
        pack.refresh_from_db()
        import json

        from django.core.files.storage import default_storage

        with default_storage.open(pack.storage_name, "rb") as fh:
            report = json.loads(zipfile.ZipFile(fh).read("certification.json"))
    by_if = {i["interface_id"]: i for i in report["interfaces"]}
    assert by_if["IF-036"]["consumed"] == 1 and by_if["IF-021"]["produced"] == 3
    assert report["reusable_as"] == {"kind": "evidence_reused", "reused_from": "alpha"}


def test_pairs_are_unique(tenant_a):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant_a):
        for minutes in (30, 90):
            services.add_pair(
                actor=admin,
                request_interface_id="if-1",
                response_interface_id="IF-2",
                limit_minutes=minutes,
            )
        assert InterfacePair.objects.get().limit_minutes == 90


def test_retention_purge_keeps_messages_an_unexpired_pack_covers(tenant_a, seeded):
    from messaging.models import Message
    from retention import services as retention

    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant_a):
        retention.set_policy(raw_body_days=1, message_days=1, log_days=1, actor=admin)
        pack = services.request_pack(
            tenant=tenant_a, actor=admin, period_start=DAY, period_end=DAY, interfaces=["IF-019"]
        )
        covered = set(
            Message.objects.filter(created__date=DAY, interface_id="IF-019").values_list(
                "pk", flat=True
            )
        )
        assert covered
        retention.purge()
        assert set(Message.objects.filter(pk__in=covered).values_list("pk", flat=True)) == covered
        EvidencePack.objects.filter(pk=pack.pk).update(expires_at=timezone.now())
        retention.purge()
        assert not Message.objects.filter(pk__in=covered).exists()
