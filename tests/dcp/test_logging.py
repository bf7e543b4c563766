"""Structured logs: every line is JSON with its context, and no seeded secret or MPAN survives."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.http import HttpResponse
from django.urls import path
from django_tenants.utils import tenant_context

from dcp.logging import (
    ContextFilter,
    JsonFormatter,
    MaskingFilter,
    PlainFormatter,
    bind,
    build_logging,
    mask_text,
)
from tests.factories import member

pytestmark = pytest.mark.django_db

SECRETS = (
    "sk_live_SEEDED_api_key_6f1d",
    "hunter2-SEEDED-password",
    "SEEDED-bearer-token-abcdef123456",
    "SEEDED-webhook-secret-77",
)
MPAN = "1200023305967"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Attach a handler configured exactly as production's (JSON, context + masking)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    for secret in (*SECRETS, MPAN):
        assert secret not in text, f"{secret!r} leaked into the logs"
    return [json.loads(line) for line in text.splitlines() if line.strip()]


log = logging.getLogger("tests.dcp.logging")


def noisy_view(request):
    log.info(
        "calling DIP with api_key=%s Authorization: Bearer %s for MPAN %s",
        SECRETS[0],
        SECRETS[2],
        MPAN,
        extra={"password": SECRETS[1], "payload": {"webhook_secret": SECRETS[3], "mpan": MPAN}},
    )
    with bind(message_id="3f0c1d5e-0000-4000-8000-000000000001", transaction_id="TX-42"):
        log.warning("inside the pipeline for %s", MPAN)
    try:
        raise ValueError(f"token={SECRETS[2]}")
    except ValueError:
        log.exception("failed")
    return HttpResponse("ok")


urlpatterns = [path("noisy/", noisy_view, name="noisy")]


def test_request_lines_are_json_with_context_and_masked(captured, host_client, tenant_a, settings):
    settings.ROOT_URLCONF = "tests.dcp.test_logging"
    user = member(tenant_a, "client_admin")
    response = host_client(tenant_a, user).get("/noisy/", HTTP_X_REQUEST_ID="req-0123456789")
    assert response.status_code == 200
    records = [r for r in lines(captured) if r["logger"] == "tests.dcp.logging"]
    assert len(records) == 3
    first, second, third = records
    for record in records:
        assert record["request_id"] == "req-0123456789"
        assert record["tenant"] == "t_alpha"
        assert record["user_id"] == user.pk
        assert record["ts"].endswith("+00:00")
    assert "api_key=***" in first["message"] and "Authorization: ***" in first["message"]
    assert "*********5967" in first["message"]
    assert first["password"] == "***"
    assert first["payload"] == {"webhook_secret": "***", "mpan": "*********5967"}
    assert second["message_id"].startswith("3f0c1d5e") and second["transaction_id"] == "TX-42"
    assert "message_id" not in first and "message_id" not in third
    assert third["level"] == "ERROR" and "ValueError" in third["exc"]


def test_bind_works_in_tasks_and_nests(captured, tenant_a):
    with tenant_context(tenant_a), bind(message_id="m-1"):
        with bind(transaction_id="TX-9"):
            log.info("inner")
        log.info("outer")
    inner, outer = [r for r in lines(captured) if r["logger"] == "tests.dcp.logging"]
    assert (inner["message_id"], inner["transaction_id"], inner["tenant"]) == (
        "m-1",
        "TX-9",
        "t_alpha",
    )
    assert outer["message_id"] == "m-1" and "transaction_id" not in outer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: *** ***"),
        ('{"api_key": "abc123def", "ok": 1}', '{"api_key": "***", "ok": 1}'),
        ("password=hunter2&next=/", "password=***&next=/"),
        ("mpan 1200023305967 and 12000233059670", "mpan *********5967 and 12000233059670"),
        ("request a1200023305967b stays", "request a1200023305967b stays"),
        (
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
            "-----PRIVATE KEY ***-----",
        ),
    ],
)
def test_masking_policy(raw, expected):
    assert mask_text(raw) == expected
    assert mask_text(mask_text(raw)) == expected  # idempotent


def test_plain_format_is_masked_too():
    msg = "secret=%s mpan=%s key %s"
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, msg, (SECRETS[3], MPAN, SECRETS[0]), None
    )
    out = PlainFormatter().format(record)
    assert SECRETS[3] not in out and MPAN not in out


def test_build_logging_selects_the_format():
    assert build_logging(fmt="json")["handlers"]["console"]["formatter"] == "json"
    assert build_logging(fmt="plain", level="debug")["root"]["level"] == "DEBUG"
    with pytest.raises(ValueError, match="DCP_LOG_FORMAT"):
        build_logging(fmt="xml")


def test_production_settings_default_to_json():
    import subprocess
    import sys

    code = (
        "import django, os;"
        "from django.conf import settings;"
        "print(settings.LOGGING['handlers']['console']['formatter'])"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "dcp.settings.prod",
        "DJANGO_SECRET_KEY": "x" * 60,
        "DCP_MASTER_KEYS": "k1=ZGV2LW9ubHktbWFzdGVyLWtleS0zMi1ieXRlcy0hISE=",
        "DCP_MASTER_KEY_ID": "k1",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "json"
