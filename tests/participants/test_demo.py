import pytest
from django_tenants.utils import tenant_context

from participants.models import DipId, Nomination
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent_and_at_two_stages():
    from tenants.demo import load_demo

    load_demo()
    load_demo()
    with tenant_context(Tenant.objects.get(slug="acme")):
        assert Nomination.objects.get(status="active").dcp_id == "3009012345"
    with tenant_context(Tenant.objects.get(slug="brightwatt")):
        assert DipId.objects.get().value == "1409010001"
        assert not Nomination.objects.exists()
