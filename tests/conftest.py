"""Shared fixtures. Two client tenants (alpha, beta) are created once per test session and
committed, because creating schemas per test is slow; each test runs in a transaction that
is rolled back, so rows a test writes never leak into the next."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from tenants.models import Domain, Tenant, User

TENANT_SLUGS = ("alpha", "beta")


# Tests that share an expensive package- or module-scoped fixture (a gunicorn + chromium, a
# sandbox with its PKI, a 100k-message tenant) run on one xdist worker, so the fixture is built
# once per run rather than once per worker; every other test is balanced across workers one by
# one. `make test` runs pytest with --dist loadgroup, which this conftest's scheduler serves
# (xdist's own loadgroup renames node ids through an attribute pytest 9 no longer reads).
XDIST_GROUPS = {
    "tests/browser/": "browser",
    "tests/messaging/inbound/": "inbound",
    "tests/console/test_search_big.py": "search-big",
}
MODULE_SCOPED = (
    "tests/certificates/test_import.py",
    "tests/console/test_replay.py",
    "tests/dcp/test_celery_tasks.py",
    "tests/sandbox/test_tls.py",
)


def xdist_group_of(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    group = next((g for prefix, g in XDIST_GROUPS.items() if path.startswith(prefix)), None)
    return group or (path if path in MODULE_SCOPED else None)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid) or nodeid

    return GroupScheduling(config, log)


def pytest_configure(config: pytest.Config) -> None:
    """cryptography (abi3) caches the ``datetime`` type on first use; make that first use
    happen in every pytest process before any test's freeze_time, or it caches freezegun's
    FakeDatetime and refuses real datetimes. Any real datetime does: the type is cached, not
    the value."""
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder

    PolicyBuilder().time(datetime(2020, 1, 1, tzinfo=UTC))
    x509.CertificateBuilder().not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Before any test: the services must answer (a clear failure naming the one that does
    not, never a hang), and what killed runs left behind is cleared. Done once per run, by the
    process that started pytest (not by each xdist worker)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from tests import housekeeping

    housekeeping.require_services()
    housekeeping.clean_up_after_killed_runs()


def _make_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        tenant = Tenant(schema_name=f"t_{slug}", name=f"{slug.title()} Energy", slug=slug)
        tenant.save(verbosity=0)
        Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
    return tenant


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    from tenants.services import ensure_public_tenant

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        if not str(name).startswith("test_"):
            raise RuntimeError(f"refusing to seed test tenants into non-test database {name!r}")
        ensure_public_tenant()
        for slug in TENANT_SLUGS:
            _make_tenant(slug)
    return


@pytest.fixture(autouse=True)
def _public_schema_after_test() -> Iterator[None]:
    yield
    if connection.schema_name != "public":
        connection.set_schema_to_public()


@pytest.fixture
def tenant_a(db: Any) -> Tenant:
    return Tenant.objects.get(slug="alpha")


@pytest.fixture
def tenant_b(db: Any) -> Tenant:
    return Tenant.objects.get(slug="beta")


@pytest.fixture
def public_tenant(db: Any) -> Tenant:
    return Tenant.objects.get(schema_name=settings.PUBLIC_SCHEMA_NAME)


def host_of(tenant: Tenant | None) -> str:
    return settings.BASE_DOMAIN if tenant is None or tenant.is_platform else tenant.primary_host


class HostClient(Client):
    """A test client bound to one host (a tenant's or the platform's)."""

    def __init__(self, host: str, **kwargs: Any) -> None:
        super().__init__(HTTP_HOST=host, **kwargs)
        self.host = host


@pytest.fixture
def host_client() -> Any:
    def make(tenant: Tenant | None = None, user: User | None = None) -> HostClient:
        client = HostClient(host_of(tenant))
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture
def in_schema() -> Any:
    """``with in_schema(tenant): ...`` — run ORM code in a tenant's (or public) schema."""

    def ctx(tenant: Tenant | None) -> Any:
        return schema_context(tenant.schema_name if tenant else settings.PUBLIC_SCHEMA_NAME)

    return ctx
