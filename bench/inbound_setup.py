"""Create the bench tenant, DIP ID and channel in the bench database; print the channel token
as JSON (run with DATABASE_URL pointing at the bench database).

``--endpoint-url URL`` also creates a client endpoint (JSON gains ``secret``, ``schema``);
``--resume`` instead resumes every paused client endpoint of the tenant (``{"resumed": n}``).
"""

from __future__ import annotations

import argparse
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


def resume() -> int:
    from django.contrib.auth import get_user_model

    from messaging.inbound.endpoints import resume_endpoint
    from messaging.inbound.models import ClientEndpoint

    tenant = Tenant.objects.get(slug="benchin")
    admin = get_user_model().objects.get(email="bench-admin@bench.example")
    with tenant_context(tenant):
        paused = list(ClientEndpoint.objects.filter(state="paused"))
        for endpoint in paused:
            resume_endpoint(endpoint=endpoint, actor=admin)
    return len(paused)


def main() -> None:
    from django.db import connection

    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint-url")
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    if a.resume:
        print(json.dumps({"resumed": resume()}))
        return

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
        out = {"token": channel.token, "schema": tenant.schema_name, "dip_id": dip.value}
        if a.endpoint_url:
            from messaging.inbound.endpoints import create_endpoint

            made = create_endpoint(name="drill client", url=a.endpoint_url, actor=admin)
            out["secret"] = made.secret
    print(json.dumps(out))


if __name__ == "__main__":
    main()
