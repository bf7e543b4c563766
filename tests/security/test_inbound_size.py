"""Inbound size (issue 17, point 5): the DIP webhook accepts bodies up to INBOUND_MAX_BYTES —
a 3 MB delivery used to die in Django's DATA_UPLOAD_MAX_MEMORY_SIZE check with a generic 400
("no retry" to the DIP: the message was lost) — and answers 413 past it without holding more
than the limit, with or without a Content-Length."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings as django_settings
from django_tenants.utils import tenant_context

from messaging.inbound.models import InboundReceipt
from messaging.models import Message
from tests.sandbox.conftest import Pki
from tests.sandbox.conftest import pki as pki
from tests.security.webhook_setup import CountingStream, Hook, delivery, make_hook, post

pytestmark = pytest.mark.django_db

THREE_MB = 3 * 1000 * 1000


@pytest.fixture
def hook(tenant_a: Any, pki: Pki, settings: Any) -> Hook:
    return make_hook(tenant_a, pki.dcp, settings, str(pki.ca_path))


def big_delivery(txn: str, at_least: int) -> bytes:
    body = delivery(txn, periods=at_least // 70)
    assert len(body) >= at_least, len(body)
    return body


def stored(hook: Hook, txn: str) -> list[Message]:
    with tenant_context(hook.tenant):
        return list(Message.objects.filter(transaction_id=txn).select_related("raw"))


def test_default_limit_is_above_django_form_limit() -> None:
    assert django_settings.INBOUND_MAX_BYTES > django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_three_megabyte_delivery_is_verified_and_stored(hook: Hook, chunked: bool) -> None:
    txn = f"BIG-{uuid.uuid4().hex[:12]}"
    body = big_delivery(txn, THREE_MB)
    reply = post(hook, body, chunked=chunked)
    assert reply.status_code == 201, reply.content[:300]
    [message] = stored(hook, txn)
    assert message.raw.size == len(body)


def test_a_body_of_exactly_the_limit_is_accepted(hook: Hook, settings: Any) -> None:
    txn = f"EXACT-{uuid.uuid4().hex[:12]}"
    body = delivery(txn)
    settings.INBOUND_MAX_BYTES = len(body)
    assert post(hook, body, chunked=True).status_code == 201
    assert len(stored(hook, txn)) == 1


def test_limit_plus_one_with_content_length_is_413_before_reading(hook: Hook) -> None:
    body = b"[" + b" " * (django_settings.INBOUND_MAX_BYTES - 1) + b"]"
    assert len(body) == django_settings.INBOUND_MAX_BYTES + 1
    stream = CountingStream(body)
    reply = post(hook, body, signed=False, stream=stream)
    assert reply.status_code == 413
    assert stream.consumed == 0  # refused on the declared length: nothing read
    with tenant_context(hook.tenant):
        assert not InboundReceipt.objects.filter(channel__token=hook.token).exists()


def test_limit_plus_one_chunked_is_413_without_reading_past_the_limit(hook: Hook) -> None:
    limit = django_settings.INBOUND_MAX_BYTES
    body = b"[" + b" " * limit + b"]" + b" " * 1024 * 1024  # the sender would go on and on
    stream = CountingStream(body)
    reply = post(hook, body, signed=False, chunked=True, stream=stream)
    assert reply.status_code == 413
    assert stream.consumed == limit + 1  # counted while streaming, stopped at limit + 1


def test_oversized_signed_delivery_is_413_not_stored(hook: Hook, settings: Any) -> None:
    txn = f"OVER-{uuid.uuid4().hex[:12]}"
    body = delivery(txn)
    settings.INBOUND_MAX_BYTES = len(body) - 1
    for chunked in (False, True):
        assert post(hook, body, chunked=chunked).status_code == 413
    assert stored(hook, txn) == []
