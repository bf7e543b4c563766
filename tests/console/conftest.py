"""A dedicated tenant with one million messages, seeded once per test session in SQL and
committed (the per-test transaction cannot hold it); its schema is dropped at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from bench.console_seed import seed
from tenants.models import Domain, Tenant

BIG = 1_000_000
SLUG = "consolebig"


@pytest.fixture(scope="session")
def big_tenant(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        tenant = Tenant.objects.filter(slug=SLUG).first()
        if tenant is None:
            tenant = Tenant(schema_name=f"t_{SLUG}", name="Console Big", slug=SLUG)
            tenant.save(verbosity=0)
            Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
        started = time.monotonic()
        with transaction.atomic(), connection.cursor() as cur:
            seed(cur, schema=tenant.schema_name, count=BIG)
        print(f"\nseeded {BIG} messages in {time.monotonic() - started:.1f} s")
        connection.set_schema_to_public()
    yield tenant
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with connection.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
        Domain.objects.filter(tenant=tenant).delete()
        Tenant.objects.filter(pk=tenant.pk).delete()
