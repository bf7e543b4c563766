"""Move old raw bodies from PostgreSQL to object storage (``default_storage``: local files by
default, S3 through django-storages when ``DCP_S3_BUCKET`` is set).

A body older than ``INBOUND_ARCHIVE_AFTER_DAYS`` is written under
``raw/<schema>/<sha256[:2]>/<sha256>``, read back and checked against its hash, and only then
is ``content`` cleared (``storage_name`` + ``archived_at`` set) — in that order, so a crash
between the steps leaves a body in both places, never in neither.
``messaging.services.raw_bytes`` reads archived bodies transparently (and checks the hash).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from dcp.db import current_schema
from messaging.models import RawBody

log = logging.getLogger(__name__)


def storage_name(sha256: str) -> str:
    return f"raw/{current_schema()}/{sha256[:2]}/{sha256}"


def archive_raw_body(raw: RawBody) -> bool:
    if raw.content is None:
        return False
    data = bytes(raw.content)
    name = storage_name(raw.sha256)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # the backend renamed it: keep what it chose
            name = saved
    with default_storage.open(name, "rb") as fh:
        if hashlib.sha256(fh.read()).hexdigest() != raw.sha256:
            log.error("archive: %s read back with a different hash; kept in PostgreSQL", name)
            return False
    RawBody.objects.filter(pk=raw.pk, content__isnull=False).update(
        content=None, storage_name=name, archived_at=timezone.now()
    )
    return True


def archive_old_raw_bodies(*, older_than: timedelta | None = None, limit: int = 2000) -> int:
    age = (
        older_than
        if older_than is not None
        else timedelta(days=settings.INBOUND_ARCHIVE_AFTER_DAYS)
    )
    cutoff = timezone.now() - age
    done = 0
    for raw in RawBody.objects.filter(created__lt=cutoff, content__isnull=False).order_by("id")[
        :limit
    ]:
        done += archive_raw_body(raw)
    return done
