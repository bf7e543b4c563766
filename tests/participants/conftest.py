from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from dcpregistry import services as registry
from tenants.roles import ClientRole
from tests.factories import member, staff


@pytest.fixture
def dcp_admin(db: Any):
    return staff()


@pytest.fixture
def admin_a(tenant_a):
    return member(tenant_a, ClientRole.CLIENT_ADMIN)


@pytest.fixture
def viewer_a(tenant_a):
    return member(tenant_a, ClientRole.CLIENT_VIEWER)


@pytest.fixture
def dcp_ready(dcp_admin):
    """DCP status active in UIT and PRD, with two free DCP IDs in each."""
    ids = {}
    for env in ("UIT", "PRD"):
        registry.request_dcp_status(environment=env, actor=dcp_admin)
        registry.decide_dcp_status(environment=env, approve=True, actor=dcp_admin)
        ids[env] = [
            d.value for d in registry.create_dcp_ids(environment=env, count=2, actor=dcp_admin)
        ]
    return ids


@pytest.fixture
def in_tenant():
    return tenant_context


@pytest.fixture
def sup_dip(tenant_a, admin_a):
    """An active UIT Supplier DIP ID in alpha."""
    from participants.services import dip_ids

    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="ALFA", role_code="SUP", actor=admin_a)
        return dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin_a)
