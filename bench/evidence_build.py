"""Worker for `bench evidence`: in its own process (so its peak RSS is the pack build's), on
the dedicated database the caller set in DATABASE_URL: create the tenant, generate N messages
with SQL (INSERT … SELECT generate_series: one raw body and two transitions each), build one
evidence pack over the whole period, verify it, print one JSON line of measurements.

    python -m bench.evidence_build N MEDIA_DIR
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

RAW_SQL = """
INSERT INTO messaging_rawbody (sha256, size, content, storage_name, created)
SELECT encode(sha256(c), 'hex'), length(c), c, '', now()
FROM (
  SELECT convert_to(
    '{"CommonBlock":{"SUR":"SUR-' || g || '","Interface":"IF-021"},"Payload":{"MPAN":"'
    || (1100000000000 + g %% 50000)::text || '","Readings":[' || repeat('{"p":1,"kWh":0.123},', 6)
    || '{"p":7,"kWh":0.5}]}}', 'UTF8') AS c
  FROM generate_series(1, %(n)s) AS g
) s
"""
MESSAGE_SQL = """
INSERT INTO messaging_message (public_id, direction, state, state_changed_at, created,
  environment, spec_version, interface_id, event_code, schema_version, dip_id,
  counterparty_dip_id, dcp_id, mpan_core, sender_unique_reference, transaction_id,
  correlation_id, publication_id, raw_id, raw_index, common_block, findings, is_duplicate,
  duplicate_count)
SELECT gen_random_uuid(), 'outbound', CASE WHEN r.id % 10 = 0 THEN 'accepted' ELSE 'settled' END,
  t, t, 'UIT', '2.1.0', CASE WHEN r.id % 3 = 0 THEN 'IF-019' ELSE 'IF-021' END, 'E', '1.0',
  '2309010001', '1409010001', '3009012345', (1100000000000 + r.id % 50000)::text,
  'SUR-' || r.id, 'TX-' || r.id, '', '', r.id, NULL, '{}'::jsonb, '[]'::jsonb, false, 0
FROM (SELECT id, timestamptz '2026-01-01 00:00+00' + (id % 28) * interval '1 day'
        + (id % 86400) * interval '1 second' AS t FROM messaging_rawbody) r
"""
TRANSITION_SQL = """
INSERT INTO messaging_transition (message_id, from_state, to_state, at, actor, reason, details)
SELECT id, '', 'received', created, 'bench', 'created', '{}'::jsonb FROM messaging_message
UNION ALL
SELECT id, 'accepted', state, created + interval '5 minutes', 'dip', 'status', '{}'::jsonb
FROM messaging_message
"""


def main() -> None:
    n, media = int(sys.argv[1]), sys.argv[2]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.outbound_settings")
    os.environ["DCP_MEDIA_ROOT"] = media
    import django

    django.setup()
    from datetime import date

    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from evidence import services, verify
    from evidence.keys import public_key_pem
    from tenants.models import Domain, Tenant, User
    from tenants.services import ensure_public_tenant

    ensure_public_tenant()
    tenant = Tenant(schema_name="t_bench", name="Bench Energy", slug="bench")
    tenant.save(verbosity=0)
    Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
    user = User.objects.create(email="bench@example.test", staff_role="dcp_admin")
    key = public_key_pem().encode()  # first use generates the key: keep it out of the timing
    with tenant_context(tenant):
        started = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(RAW_SQL, {"n": n})
            cur.execute(MESSAGE_SQL)
            cur.execute(TRANSITION_SQL)
            cur.execute("ANALYZE")
        generated = time.perf_counter() - started
        pack = services.request_pack(
            tenant=tenant,
            actor=user,
            period_start=date(2026, 1, 1),
            period_end=date(2026, 1, 31),
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        services.build(pack.pk, tenant_slug=tenant.slug, tenant_name=tenant.name)
        built = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pack.refresh_from_db()
        path = os.path.join(media, pack.storage_name)
        started = time.perf_counter()
        report = verify.verify_pack(path, key)
        verified = time.perf_counter() - started
    print(
        json.dumps(
            {
                "messages": pack.message_count,
                "generate_s": round(generated, 2),
                "build_s": round(built, 2),
                "verify_s": round(verified, 2),
                "verify_ok": report.ok,
                "peak_rss_mb": round(rss_after / 1024, 1),
                "rss_before_build_mb": round(rss_before / 1024, 1),
                "pack_mb": round(pack.size / 1e6, 1),
                "at": timezone.now().isoformat(),
            }
        )
    )


if __name__ == "__main__":
    main()
