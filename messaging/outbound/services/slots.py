"""Concurrency limits per tenant and per DIP ID, as PostgreSQL session advisory locks.

A sender holds one tenant slot and one DIP ID slot while it sends; with ``n`` slots per key a
tenant never has more than ``n`` sends in flight, so one client's flood cannot occupy every
worker. Advisory locks live and die with the database session: a killed worker frees its
slots at once, and flushing Redis loses nothing."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from dcp.db import current_schema


def _key(text: str) -> int:
    return zlib.crc32(text.encode()) - 2**31  # a signed int4, as pg_advisory_lock(int, int) wants


def _try(space: int, limit: int) -> int | None:
    with connection.cursor() as cur:
        for slot in range(limit):
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [space, slot])
            if cur.fetchone()[0]:
                return slot
    return None


def _release(space: int, slot: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s, %s)", [space, slot])


@contextmanager
def send_slots(*, dip_id: str, tenant_limit: int, dip_id_limit: int) -> Iterator[bool]:
    """Yields True holding a tenant slot and a DIP ID slot, or False when none is free."""
    schema = current_schema()
    tenant_space = _key(f"outbound-tenant:{schema}")
    dip_space = _key(f"outbound-dip:{schema}:{dip_id}")
    held: list[tuple[int, int]] = []
    try:
        for space, limit in ((tenant_space, tenant_limit), (dip_space, dip_id_limit)):
            slot = _try(space, max(1, limit))
            if slot is None:
                break
            held.append((space, slot))
        yield len(held) == 2
    finally:
        for space, slot in reversed(held):
            _release(space, slot)
