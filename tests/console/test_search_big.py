"""Search over a one-million-message tenant: every main filter shape uses an index (no
sequential scan of the message table) and keyset paging walks everything without a cap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from bench.console_seed import BASE, MPANS
from console import search
from console.services import dry_run

pytestmark = pytest.mark.django_db


SHAPES = {
    "mpans": {"mpans": "\n".join(MPANS[:50])},
    "failures_outbound": {"status_group": "failure", "direction": "outbound"},
    "interface_second_range": {
        "interface_ids": "IF-021",
        "created_from": (BASE + timedelta(hours=3)).isoformat(),
        "created_to": (BASE + timedelta(hours=3, minutes=39, seconds=45)).isoformat(),
    },
    "time_range": {
        "created_from": (BASE + timedelta(hours=18, seconds=130)).isoformat(),
        "created_to": (BASE + timedelta(hours=18, minutes=41, seconds=55)).isoformat(),
    },
    "any_id": {"any_id": "TXN-123457"},
    "transaction": {"transaction_id": "TXN-99"},
    "counterparty_failed": {"counterparty_dip_id": "1409030001", "states": "rejected"},
    "event_code_mpan": {"event_code": "ActivePower", "mpans": MPANS[3]},
    "envelope": {"envelope": "S1.marker=M-5007"},
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_main_filter_shapes_use_indexes(big_tenant, shape):
    with tenant_context(big_tenant):
        query, _ = search.build_query(SHAPES[shape])
        plan = search.explain(query)
        assert "Seq Scan on messaging_message" not in plan, plan
        assert "Index" in plan, plan


def test_keyset_paging_walks_every_match_without_a_cap(big_tenant):
    with tenant_context(big_tenant):
        query, _ = search.build_query({"mpans": "\n".join(MPANS[:3])})
        seen: list[int] = []
        after = None
        while True:
            page = search.page(query, after=after, size=500)
            seen.extend(m.pk for m in page.items)
            if page.next_cursor is None:
                break
            after = page.next_cursor
        assert len(seen) == 3000 and len(set(seen)) == 3000
        assert seen == sorted(seen, reverse=True)
        count = search.count(query)
        assert count.exact and count.value == 3000


def test_large_results_get_an_estimated_labelled_count(big_tenant):
    with tenant_context(big_tenant):
        query, _ = search.build_query({"direction": "inbound"})
        count = search.count(query)
        assert not count.exact and count.value > 100_000
        deep = search.page(query, after=200_000, size=10)
        assert len(deep.items) == 10 and all(m.pk < 200_000 for m in deep.items)


def test_outage_window_to_the_second(big_tenant):
    """ "Requeue everything that failed between 18:02:10 and 18:41:55": both ends inclusive."""
    start = BASE + timedelta(hours=18, minutes=2, seconds=10)
    end = BASE + timedelta(hours=18, minutes=41, seconds=55)
    with tenant_context(big_tenant):
        query, _ = search.build_query(
            {"created_from": start.isoformat(), "created_to": end.isoformat()}
        )
        created = [m.created for m in search.page(query, size=500).items]
        assert max(created) == end
        n = search.count(query, cap=100_000)
        assert n.exact and n.value == (end - start).total_seconds() * 10 + 1
        preview = dry_run(kind="requeue_outbound", query=query)
        assert 0 < preview.eligible.value < n.value
        assert all(m.state in ("failed", "rejected", "expired") for m in preview.sample)
