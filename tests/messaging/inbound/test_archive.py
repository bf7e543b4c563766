"""Raw archive: old bodies move to object storage (local files; S3 with moto), still readable
by id and hash."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from messaging import services
from messaging.inbound.archive import archive_old_raw_bodies
from messaging.models import RawBody

pytestmark = pytest.mark.django_db


def _old(data: bytes) -> RawBody:
    raw = services.store_raw(data)
    RawBody.objects.filter(pk=raw.pk).update(created=timezone.now() - timedelta(days=40))
    return raw


def test_archive_to_local_files(tenant_a: Any, settings: Any, tmp_path: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    with tenant_context(tenant_a):
        raw = _old(b'[{"payload": "archived locally"}]')
        fresh = services.store_raw(b'[{"payload": "recent"}]')
        assert archive_old_raw_bodies() >= 1
        raw = RawBody.objects.get(sha256=raw.sha256)
        assert raw.content is None and raw.storage_name and raw.archived_at
        assert services.raw_bytes(raw) == b'[{"payload": "archived locally"}]'
        assert RawBody.objects.get(pk=fresh.pk).content is not None


def test_archive_to_s3_with_moto(tenant_a: Any, settings: Any) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name="eu-west-2").create_bucket(
            Bucket="dcp-raw", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "dcp-raw", "region_name": "eu-west-2"},
            },
        }
        with tenant_context(tenant_a):
            raw = _old(b'[{"payload": "archived to s3"}]')
            assert archive_old_raw_bodies() >= 1
            raw = RawBody.objects.get(sha256=raw.sha256)
            assert raw.content is None and raw.storage_name.startswith("raw/")
            assert services.raw_bytes(raw) == b'[{"payload": "archived to s3"}]'
