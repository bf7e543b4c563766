"""Webhook rate limits shared across processes (issue 17, point 6, webhook part).

Found: the unknown-token limit lived in each gunicorn process's memory (about 120 a minute per
address with 4 workers) and was checked only after the database had been asked; every unsigned
POST to a valid token wrote a receipt row, without limit. Now both counts live in Redis (the
Django cache): an address over its unknown-token limit gets 429 + Retry-After before any query,
and failed signatures per token get receipts only up to their limit, then 429 without any."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from messaging.inbound.models import InboundReceipt
from messaging.inbound.webhook_limits import signature_failures, unknown_tokens
from tests.sandbox.conftest import Pki
from tests.sandbox.conftest import pki as pki
from tests.security.webhook_setup import Hook, delivery, make_hook, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(tenant_a: Any, pki: Pki, settings: Any) -> Any:
    made = make_hook(tenant_a, pki.dcp, settings, str(pki.ca_path))
    yield made
    unknown_tokens.reset(made.address)
    signature_failures.reset(made.token)


def unknown(hook: Hook) -> str:
    return f"unknown{uuid.uuid4().hex[:16]}"


def failed_receipts(hook: Hook) -> int:
    with tenant_context(hook.tenant):
        return InboundReceipt.objects.filter(
            channel__token=hook.token, outcome=InboundReceipt.Outcome.SIGNATURE
        ).count()


def test_unknown_tokens_are_limited_per_address_before_any_query(
    hook: Hook, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.INBOUND_UNKNOWN_PATH_LIMIT = 3
    codes = [post(hook, b"[]", signed=False, token=unknown(hook)).status_code for _ in range(3)]
    assert codes == [404, 404, 404]
    with django_assert_num_queries(0):
        blocked = post(hook, b"[]", signed=False, token=unknown(hook))
    assert blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= 60
    # another address is not affected
    other = post(hook, b"[]", signed=False, token=unknown(hook), address="2001:db8::beef")
    assert other.status_code == 404
    unknown_tokens.reset("2001:db8::beef")


def test_unknown_token_count_is_shared_with_other_processes(hook: Hook, settings: Any) -> None:
    """Another web process (a separate Python interpreter) sends the unknown tokens; this one
    refuses the next from the same address."""
    settings.INBOUND_UNKNOWN_PATH_LIMIT = 5
    script = (
        "import json, sys\n"
        "from django.conf import settings\n"
        "settings.CACHES = json.loads(sys.argv[2])  # this run's Redis and key prefix\n"
        "import django; django.setup()\n"
        "from messaging.inbound.webhook_limits import unknown_tokens\n"
        "print([unknown_tokens.hit(sys.argv[1]).count for _ in range(5)])\n"
    )
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or "dcp.settings.test"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": module}
    caches = json.dumps(settings.CACHES)
    done = subprocess.run(
        [sys.executable, "-c", script, hook.address, caches],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "[1, 2, 3, 4, 5]", done.stderr[-2000:]
    assert post(hook, b"[]", signed=False, token=unknown(hook)).status_code == 429


def test_failed_signatures_get_capped_receipts_then_429(
    hook: Hook, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.INBOUND_SIGNATURE_FAILURE_LIMIT = 3
    post(hook, delivery("WARM"), signed=True)  # route cached, as for a live channel
    junk = delivery(f"JUNK-{uuid.uuid4().hex[:8]}")
    codes = [post(hook, junk, signed=False).status_code for _ in range(3)]
    assert codes == [400, 400, 400]
    assert failed_receipts(hook) == 3
    for _ in range(3):
        with django_assert_num_queries(0):
            reply = post(hook, junk, signed=False)
        assert reply.status_code == 429 and 0 < int(reply["Retry-After"]) <= 60
    assert failed_receipts(hook) == 3  # junk cannot fill the disk


def test_genuine_delivery_to_a_flooded_token_is_still_accepted(hook: Hook, settings: Any) -> None:
    settings.INBOUND_SIGNATURE_FAILURE_LIMIT = 2
    junk = delivery("JUNK")
    assert [post(hook, junk, signed=False).status_code for _ in range(3)] == [400, 400, 429]
    txn = f"REAL-{uuid.uuid4().hex[:12]}"
    assert post(hook, delivery(txn), signed=True).status_code == 201


def test_a_cache_outage_does_not_refuse_deliveries(hook: Hook, monkeypatch: Any) -> None:
    from django.core.cache import cache

    def down(*_: Any, **__: Any) -> Any:
        raise ConnectionError("redis down")

    for name in ("get", "add", "incr"):
        monkeypatch.setattr(cache, name, down)
    assert post(hook, b"[]", signed=False, token=unknown(hook)).status_code == 404
    txn = f"OUTAGE-{uuid.uuid4().hex[:12]}"
    assert post(hook, delivery(txn), signed=True).status_code == 201
