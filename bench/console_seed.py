"""Seed a tenant schema with N messages fast, in SQL (INSERT … SELECT generate_series), for
the console's index tests and its search benchmark. Shape (deterministic in ``g``):

* direction alternates; states by ``(g / 2) % 19`` (mostly settled/delivered, ~15 % failures);
* 40 interfaces ``IF-010``…``IF-049``; 1,000 valid MPAN cores, ``MPANS[g % 1000]``;
* created = BASE + g × 100 ms (1 M messages span ~28 hours);
* outbound SUR ``SUR-g``, inbound transaction id ``TXN-g``; every 1,000th has a common block.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dip.identifiers import with_check_digit

BASE = datetime(2026, 1, 5, 0, 0, 0, tzinfo=UTC)
MPANS = [with_check_digit(f"{1200000000000 + i * 7919:012d}"[-12:]) for i in range(1000)]
OUT_STATES = ["settled"] * 13 + ["accepted", "failed", "rejected", "expired", "queued", "sent"]
IN_STATES = ["delivered"] * 15 + ["validated", "rejected", "received", "received"]

SEED_SQL = """
WITH raw AS (
    INSERT INTO messaging_rawbody (sha256, size, content, storage_name, created)
    VALUES (md5(random()::text) || md5(random()::text), 2, '\\x7b7d'::bytea, '', now())
    RETURNING id
)
INSERT INTO messaging_message (
    public_id, direction, state, state_changed_at, created, environment, spec_version,
    interface_id, event_code, schema_version, dip_id, counterparty_dip_id, dcp_id, mpan_core,
    sender_unique_reference, transaction_id, correlation_id, publication_id, raw_id,
    raw_index, common_block, findings, is_duplicate, duplicate_count
)
SELECT
    ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
    CASE WHEN g %% 2 = 0 THEN 'outbound' ELSE 'inbound' END,
    CASE WHEN g %% 2 = 0 THEN (%(out)s::text[])[1 + (g / 2) %% 19]
         ELSE (%(inb)s::text[])[1 + (g / 2) %% 19] END,
    %(base)s::timestamptz + g * interval '100 milliseconds',
    %(base)s::timestamptz + g * interval '100 milliseconds',
    'UIT', '2.1.0',
    'IF-0' || (10 + g %% 40)::text,
    CASE WHEN g %% 3 = 0 THEN 'ActivePower' ELSE 'Read' END,
    '011',
    '2309010001',
    CASE WHEN g %% 5 = 0 THEN '1409030001' ELSE '2309039001' END,
    '',
    (%(mpans)s::text[])[1 + g %% 1000],
    CASE WHEN g %% 2 = 0 THEN 'SUR-' || g ELSE '' END,
    CASE WHEN g %% 2 = 1 THEN 'TXN-' || g ELSE '' END,
    '',
    '',
    raw.id,
    NULL,
    CASE WHEN g %% 1000 = 7 THEN jsonb_build_object('S1', jsonb_build_object('marker', 'M-' || g))
         ELSE '{}'::jsonb END,
    '[]'::jsonb, false, 0
FROM raw, generate_series(%(start)s, %(stop)s) AS g
"""


def seed(cursor: Any, *, schema: str, count: int, start: int = 1) -> None:
    """Insert ``count`` messages into ``schema`` (an existing, migrated tenant schema)."""
    cur = cursor
    cur.execute(f'SET LOCAL search_path TO "{schema}", public')
    # Building an index once is far cheaper than maintaining it row by row: drop the
    # secondary indexes (not those behind constraints), insert, then build them again.
    cur.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = %s AND i.tablename = 'messaging_message'
          AND NOT EXISTS (
              SELECT 1 FROM pg_constraint c
              WHERE c.conindid
                  = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass
          )
        """,
        [schema],
    )
    indexes = cur.fetchall()
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{schema}"."{name}"')
    cur.execute(
        SEED_SQL,
        {
            "out": OUT_STATES,
            "inb": IN_STATES,
            "mpans": MPANS,
            "base": BASE,
            "start": start,
            "stop": start + count - 1,
        },
    )
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # fire the deferred FK checks now
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        cur.execute(definition)
    cur.execute(f'ANALYZE "{schema}".messaging_message')
