"""/metrics: who may read it, request metrics counting real requests, domain gauges following
the message store, queue depths from the broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from dcp import metrics
from messaging import services
from messaging.states import Direction, State
from tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.DCP_METRICS_TOKEN = TOKEN
    settings.DCP_METRICS_CACHE_SECONDS = 0
    settings.DCP_READYZ_CACHE_SECONDS = 0


def scrape(host_client, tenant=None):
    response = host_client(tenant).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"].startswith("text/plain")
    return metrics.families_by_name(response.content.decode())


def value(families, name, **labels):
    return sum(
        v for lab, v in families.get(name, []) if all(lab.get(k) == x for k, x in labels.items())
    )


def test_metrics_need_the_token_or_a_staff_session(host_client, tenant_a):
    assert host_client(None).get("/metrics").status_code == 401
    wrong = host_client(None).get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert host_client(None, UserFactory()).get("/metrics").status_code == 401
    assert host_client(None, staff()).get("/metrics").status_code == 200
    # Served on tenant hosts too (scrapers may address any host).
    tenant_scrape = host_client(tenant_a).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert tenant_scrape.status_code == 200


def test_no_token_configured_means_no_token_access(settings, host_client):
    settings.DCP_METRICS_TOKEN = ""
    assert host_client(None).get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_request_metrics_count_real_requests(host_client, tenant_a):
    before = scrape(host_client)
    labels = {"route": "healthz", "method": "GET", "status": "200"}
    start = value(before, "dcp_http_requests_total", **labels)
    for _ in range(3):
        host_client(tenant_a).get("/healthz")
    host_client(None).get("/no/such/page/")
    after = scrape(host_client)
    assert value(after, "dcp_http_requests_total", **labels) == start + 3
    assert value(after, "dcp_http_request_duration_seconds_count", **labels) == start + 3
    assert value(after, "dcp_http_requests_total", route="unmatched", status="404") >= 1
    buckets = {lab["le"] for lab, _ in after["dcp_http_request_duration_seconds_bucket"]}
    assert {"2.0", "4.0", "6.0", "12.0"} <= buckets  # the DIP limits are bucket edges


def _new(direction, state=State.RECEIVED, interface="IF-021", **kw):
    raw = services.store_raw(kw.pop("body", b"{}"))
    item = services.NewMessage(
        direction=direction,
        environment="UIT",
        interface_id=interface,
        dip_id="2309010001",
        raw=raw,
        state=state,
        **kw,
    )
    return services.create_messages([item], actor="test")[0]


def test_domain_gauges_follow_the_message_store(host_client, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        queued = [_new(Direction.OUTBOUND, State.QUEUED, body=f"q{i}".encode()) for i in range(3)]
        _new(Direction.INBOUND, State.RECEIVED, interface="IF-024", transaction_id="T-1")
        problem = _new(Direction.OUTBOUND, State.REJECTED, body=b"r")
        services.open_exception(problem, category="rejected_by_dip", code="MSG1006", summary="x")
        from messaging.models import Message

        Message.objects.filter(pk=queued[0].pk).update(created=timezone.now() - timedelta(hours=2))
    families = scrape(host_client)
    alpha = {"tenant": "alpha"}
    assert value(families, "dcp_messages", direction="outbound", state="queued", **alpha) == 3
    assert value(families, "dcp_messages", direction="inbound", interface="IF-024", **alpha) == 1
    assert value(families, "dcp_messages", tenant="beta") == 0
    assert value(families, "dcp_open_exceptions", category="rejected_by_dip", **alpha) == 1
    oldest = value(
        families, "dcp_oldest_pending_message_age_seconds", direction="outbound", **alpha
    )
    assert 7000 < oldest < 7400

    with tenant_context(tenant_a):
        for m in queued:
            services.transition(m, State.SENT, actor="test")
    families = scrape(host_client)
    assert value(families, "dcp_messages", direction="outbound", state="queued", **alpha) == 0
    assert value(families, "dcp_messages", direction="outbound", state="sent", **alpha) == 3


def test_certificate_expiry_gauges(host_client, tenant_a):
    from certificates.models import Certificate, PrivateKey

    with tenant_context(tenant_a):
        # Metrics read dates and states only: a placeholder key row is enough.
        key = PrivateKey.objects.create(
            key_type="ec-p256", sealed_pem="sealed", public_key_sha256="0" * 64, source="generated"
        )
        Certificate.objects.create(
            environment="UIT",
            usage="signing",
            state=Certificate.State.ACTIVE,
            provider="local_ca",
            private_key=key,
            requested_common_name="alpha.example",
            not_after=timezone.now() + timedelta(days=10),
        )
    families = scrape(host_client)
    assert value(families, "dcp_certificates_expiring", tenant="alpha", within_days="14") == 1
    assert value(families, "dcp_certificates_expiring", tenant="alpha", within_days="7") == 0
    left = value(families, "dcp_certificate_expires_in_seconds", tenant="alpha", environment="UIT")
    assert 9 * 86400 < left <= 10 * 86400


def test_queue_depths_come_from_the_broker(host_client, settings):
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "") + "certificates"
    before = value(scrape(host_client), "dcp_celery_queue_length", queue="certificates")
    client.rpush(queue, b"{}", b"{}")
    try:
        after = value(scrape(host_client), "dcp_celery_queue_length", queue="certificates")
    finally:
        for _ in range(2):
            client.rpop(queue)
    assert after - before == 2
    assert value(scrape(host_client), "dcp_broker_up") == 1


def test_readiness_is_exported(host_client):
    families = scrape(host_client)
    checks = {lab["check"] for lab, _ in families["dcp_ready"]}
    assert {"database", "redis", "migrations", "celery_beat"} <= checks


def test_pipeline_latency_helpers():
    metrics.observe_sync_ack(0.3, interface="IF-021")
    metrics.observe_l4_response(7.0, interface="IF-021")
    text = metrics.generate_latest(metrics.REGISTRY).decode()
    assert 'dcp_dip_l4_response_seconds_bucket{interface="IF-021",le="8.0"}' in text
