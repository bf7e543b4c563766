"""Console search latency on a one-million-message tenant (run by bench/sections/console.py
with DATABASE_URL on a dedicated database): seeds the tenant in SQL, then times the first
page (50 rows, keyset) plus the count, for each main filter shape. Prints JSON."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.console_settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from bench.console_seed import BASE, MPANS, seed  # noqa: E402
from console import search  # noqa: E402
from tenants.models import Domain, Tenant  # noqa: E402
from tenants.services import ensure_public_tenant  # noqa: E402

SHAPES = {
    "1000 MPANs": {"mpans": "\n".join(MPANS)},
    "10 MPANs + failure": {"mpans": "\n".join(MPANS[:10]), "status_group": "failure"},
    "failure, outbound": {"status_group": "failure", "direction": "outbound"},
    "interface + 40 min to the second": {
        "interface_ids": "IF-021",
        "created_from": (BASE + timedelta(hours=18, minutes=2, seconds=10)).isoformat(),
        "created_to": (BASE + timedelta(hours=18, minutes=41, seconds=55)).isoformat(),
    },
    "any id": {"any_id": "TXN-654321"},
    "counterparty + rejected": {"counterparty_dip_id": "1409030001", "states": "rejected"},
    "envelope field": {"envelope": "S1.marker=M-500007"},
    "deep page (after id 100k)": {"direction": "inbound", "after": "100000"},
}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    ensure_public_tenant()
    tenant = Tenant(schema_name="t_benchconsole", name="Bench Console", slug="benchconsole")
    tenant.save(verbosity=0)
    Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        seed(cur, schema=tenant.schema_name, count=count)
    seed_s = time.perf_counter() - started
    out: dict[str, object] = {"messages": count, "seed_s": seed_s, "shapes": {}}
    with tenant_context(tenant):
        for name, params in SHAPES.items():
            params = dict(params)
            after = params.pop("after", None)
            query, _ = search.build_query(params)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                search.page(query, after=int(after) if after else None, size=50)
                search.count(query)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out["shapes"][name] = {  # type: ignore[index]
                "p50_ms": statistics.median(times),
                "p95_ms": times[max(0, int(len(times) * 0.95) - 1)],
            }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
