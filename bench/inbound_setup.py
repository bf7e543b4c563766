"""Create the bench tenant, DIP ID and channel in the bench database; print the channel token
(run with DATABASE_URL pointing at the bench database)."""

from __future__ import annotations

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.inbound_settings")

import django

django.setup()

from django_tenants.utils import tenant_context  # noqa: E402

from participants.services import channels, dip_ids  # noqa: E402
from tenants.models import Domain, Tenant  # noqa: E402
from tenants.services import ensure_public_tenant  # noqa: E402
from tests.factories import member  # noqa: E402


def main() -> None:
    from django.db import connection

    with connection.cursor() as cur:  # the floor's table (bench.inbound_floor)
        cur.execute(
            "CREATE TABLE IF NOT EXISTS public.bench_floor "
            "(id bigserial PRIMARY KEY, size int, body bytea)"
        )
    ensure_public_tenant()
    tenant = Tenant.objects.filter(slug="benchin").first()
    if tenant is None:
        tenant = Tenant(schema_name="t_benchin", name="Bench Inbound", slug="benchin")
        tenant.save(verbosity=0)
        Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
    admin = member(tenant, "client_admin", email="bench-admin@bench.example")
    with tenant_context(tenant):
        combo = dip_ids.add_mpid_role(mpid="ACME", role_code="SUP", actor=admin)
        dip = dip_ids.create_dip_id(
            mpid_role=combo, environment="UIT", actor=admin, value="2309010001"
        )
        channel = channels.configure_channel(dip_id=dip, interface_id="IF-021", actor=admin)
    print(json.dumps({"token": channel.token}))


if __name__ == "__main__":
    main()
