"""Prometheus metrics: ``/metrics`` (bearer token DCP_METRICS_TOKEN or a DCP staff session).

Three kinds of series:

* request metrics, counted by ``MetricsMiddleware`` in every web process:
  ``dcp_http_requests_total`` and ``dcp_http_request_duration_seconds`` by route name, method
  and status;
* pipeline latencies the DIP rules bound on *us* as a recipient, observed on the real paths:
  ``observe_sync_ack()`` by the inbound webhook (DIP callback received → our answer) and
  ``observe_l4_response()`` by inbound processing and the status sender (message received →
  our L4 outcome: a negative status sent, or the decision that none is owed); the alerts
  ``DipSyncAckSlow``/``DipL4ResponseSlow`` read these;
* inbound duplicates found by processing, ``dcp_inbound_duplicates_total{interface, kind}``
  (``count_inbound_duplicate()``: ``reference`` or ``content``; docs/inbound.md "Duplicates");
* what our outbound messages meet, observed by the outbound pipeline: ``observe_send_ack()``
  (the DIP's synchronous answer to a Send API call) and ``observe_status_delay()`` (DIP
  acceptance → a status about the message received);
* domain gauges computed at scrape time from the database and the broker (``DomainCollector``):
  messages by state, open exceptions, oldest pending message, certificates close to expiry,
  paused client endpoints, Celery queue depths and heartbeat ages. They are cached for
  DCP_METRICS_CACHE_SECONDS so several scrapers (or replicas) do not multiply the queries.

Multi-process servers (gunicorn with several workers): set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty directory shared by the processes of one host (wiped at start); counters and histograms
are then written to files there and every scrape aggregates all processes. Without it each
process reports only its own requests (fine for one process; misleading for several).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
# Latency buckets include the DIP limits (2 s / 4 s sync ack; 6 s / 12 s async L4; 5/8 and
# 10/16 at peak) so quantiles around each limit are exact enough to alert on.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 5, 6, 8, 10, 12, 16, 30, 60)

HTTP_REQUESTS = Counter(
    "dcp_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "dcp_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name, method and status.",
    ["route", "method", "status"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
DIP_SYNC_ACK = Histogram(
    "dcp_dip_sync_ack_seconds",
    "Inbound webhook: DIP request received to our synchronous acknowledgement sent.",
    ["interface"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
DIP_L4_RESPONSE = Histogram(
    "dcp_dip_l4_response_seconds",
    "Inbound message received to its asynchronous L4 validation response sent to the DIP.",
    ["interface"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
# Outbound: what the DIP and the recipients take. Status delays run long (late negatives).
_STATUS_BUCKETS = (*_LATENCY_BUCKETS, 120, 300, 600, 1800, 3600, 6 * 3600, 24 * 3600)
DIP_SEND_ACK = Histogram(
    "dcp_dip_send_ack_seconds",
    "Outbound: our Send API call to the DIP's synchronous answer (any HTTP status).",
    ["interface"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
DIP_STATUS_DELAY = Histogram(
    "dcp_dip_status_delay_seconds",
    "Outbound: the DIP accepted our message to a status message about it received.",
    ["interface", "outcome"],
    buckets=_STATUS_BUCKETS,
    registry=REGISTRY,
)
INBOUND_DUPLICATES = Counter(
    "dcp_inbound_duplicates",
    "Inbound duplicates found in processing: kind=reference (a reused senderUniqueReference, "
    "RCP1006 sent) or kind=content (same content under new references: suspected).",
    ["interface", "kind"],
    registry=REGISTRY,
)


def count_inbound_duplicate(*, interface: str, kind: str) -> None:
    INBOUND_DUPLICATES.labels(interface=interface or "unknown", kind=kind).inc()


def observe_sync_ack(seconds: float, *, interface: str) -> None:
    DIP_SYNC_ACK.labels(interface=interface or "unknown").observe(seconds)


def observe_l4_response(seconds: float, *, interface: str) -> None:
    DIP_L4_RESPONSE.labels(interface=interface or "unknown").observe(seconds)


def observe_send_ack(seconds: float, *, interface: str) -> None:
    DIP_SEND_ACK.labels(interface=interface or "unknown").observe(seconds)


def observe_status_delay(seconds: float, *, interface: str, positive: bool) -> None:
    outcome = "positive" if positive else "negative"
    DIP_STATUS_DELAY.labels(interface=interface or "unknown", outcome=outcome).observe(seconds)


# --- request metrics ----------------------------------------------------------------------


class MetricsMiddleware:
    """Counts and times every request. The route label is the URL pattern's name (bounded
    cardinality), ``unmatched`` for 404s that matched nothing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        # Views answered by middleware (the DIP webhook) name themselves: request.metrics_route.
        match = getattr(request, "resolver_match", None)
        route = getattr(request, "metrics_route", None) or (
            (match.view_name or match.route or "unnamed") if match else "unmatched"
        )
        labels = {
            "route": route,
            "method": request.method or "",
            "status": str(response.status_code),
        }
        try:
            HTTP_REQUESTS.labels(**labels).inc()
            HTTP_LATENCY.labels(**labels).observe(elapsed)
        except Exception:  # metrics must never break a response
            log.exception("request metrics not recorded")
        return response


# --- domain metrics -----------------------------------------------------------------------

QUEUES = ("inbound", "outbound", "delivery", "certificates", "housekeeping")
PENDING_STATES = {
    # Outbound: accepted by us but not yet sent to the DIP. Inbound: not yet with the client.
    "outbound": ("received", "validated", "queued"),
    "inbound": ("received", "validated", "rejected"),
}


def _tenant_gauges(now: Any, families: dict[str, GaugeMetricFamily], tenant: str) -> None:
    """Per-tenant queries (run inside the tenant's schema). Each is index-backed."""
    from django.apps import apps
    from django.db.models import Count, Min, Q

    if apps.is_installed("messaging"):
        from messaging.models import Message, MessageException
        from messaging.states import FINAL_STATES, Direction

        window = now - timedelta(hours=settings.DCP_METRICS_WINDOW_HOURS)
        final = {d: {str(s) for s in FINAL_STATES[Direction(d)]} for d in ("inbound", "outbound")}
        # In-flight messages whatever their age; final ones over the recent window only (a
        # count of every settled message ever is neither cheap nor useful on a dashboard).
        in_flight = Q()
        for direction, states in final.items():
            in_flight |= Q(direction=direction) & ~Q(state__in=states)
        rows = (
            Message.objects.filter(in_flight | Q(created__gte=window))
            .values_list("direction", "interface_id", "state")
            .annotate(n=Count("id"))
        )
        for direction, interface, state, n in rows:
            families["messages"].add_metric([tenant, direction, interface, state], n)
        open_rows = (
            MessageException.objects.filter(status=MessageException.Status.OPEN)
            .values_list("message__direction", "message__interface_id", "category")
            .annotate(n=Count("id"))
        )
        for direction, interface, category, n in open_rows:
            families["exceptions"].add_metric([tenant, direction, interface, category], n)
        for direction, pending in PENDING_STATES.items():
            oldest = (
                Message.objects.filter(direction=direction, state__in=pending)
                .values_list("interface_id")
                .annotate(oldest=Min("created"))
            )
            for interface, first in oldest:
                age = max(0.0, (now - first).total_seconds())
                families["oldest"].add_metric([tenant, direction, interface], age)

    if apps.is_installed("certificates"):
        from certificates.models import Certificate

        live = Certificate.objects.filter(
            state__in=Certificate.LIVE_STATES, not_after__isnull=False
        )
        soonest = live.values_list("environment", "usage").annotate(first=Min("not_after"))
        for environment, usage, first in soonest:
            families["cert_expiry"].add_metric(
                [tenant, environment, usage], (first - now).total_seconds()
            )
        for days in settings.DCP_METRICS_CERT_DAYS:
            expiring = (
                live.filter(not_after__lte=now + timedelta(days=days))
                .values_list("environment")
                .annotate(n=Count("id"))
            )
            for environment, n in expiring:
                families["cert_expiring"].add_metric([tenant, environment, str(days)], n)

    endpoint = _paused_endpoint_model()
    if endpoint is not None:
        model, lookup = endpoint
        families["paused"].add_metric([tenant], model.objects.filter(**lookup).count())


def _paused_endpoint_model() -> tuple[Any, dict[str, Any]] | None:
    """Client delivery endpoints are being built (messaging/outbound, messaging/inbound). Any
    model named in DCP_METRICS_ENDPOINT_MODELS with a ``paused`` boolean, a ``paused_at``
    timestamp or a ``status`` of "paused" is counted; none installed = no series."""
    from django.apps import apps

    for label in settings.DCP_METRICS_ENDPOINT_MODELS:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue
        fields = {f.name for f in model._meta.get_fields()}
        if "paused" in fields:
            return model, {"paused": True}
        if "paused_at" in fields:
            return model, {"paused_at__isnull": False}
        if "status" in fields:
            return model, {"status": "paused"}
    return None


def _new_families() -> dict[str, GaugeMetricFamily]:
    return {
        "messages": GaugeMetricFamily(
            "dcp_messages",
            "Messages by state: every in-flight message, and final ones created within the "
            "last DCP_METRICS_WINDOW_HOURS.",
            labels=["tenant", "direction", "interface", "state"],
        ),
        "exceptions": GaugeMetricFamily(
            "dcp_open_exceptions",
            "Open message exceptions by category.",
            labels=["tenant", "direction", "interface", "category"],
        ),
        "oldest": GaugeMetricFamily(
            "dcp_oldest_pending_message_age_seconds",
            "Age of the oldest unsent outbound / undelivered inbound message.",
            labels=["tenant", "direction", "interface"],
        ),
        "cert_expiry": GaugeMetricFamily(
            "dcp_certificate_expires_in_seconds",
            "Seconds until the soonest live certificate expires (negative: expired).",
            labels=["tenant", "environment", "usage"],
        ),
        "cert_expiring": GaugeMetricFamily(
            "dcp_certificates_expiring",
            "Live certificates expiring within N days.",
            labels=["tenant", "environment", "within_days"],
        ),
        "paused": GaugeMetricFamily(
            "dcp_paused_client_endpoints",
            "Client delivery endpoints paused (deliveries held back).",
            labels=["tenant"],
        ),
        "errors": GaugeMetricFamily(
            "dcp_metrics_collection_errors",
            "1 when the domain metrics of a tenant could not be collected at this scrape.",
            labels=["tenant"],
        ),
    }


def collect_domain() -> list[GaugeMetricFamily]:
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from tenants.models import Tenant

    now = timezone.now()
    families = _new_families()
    tenants = Tenant.objects.filter(kind=Tenant.Kind.CLIENT).exclude(status="offboarded")
    for schema, slug in tenants.values_list("schema_name", "slug"):
        try:
            with schema_context(schema):
                _tenant_gauges(now, families, slug)
        except Exception:
            log.exception("domain metrics failed for tenant %s", slug)
            families["errors"].add_metric([slug], 1)
    return [*families.values(), *_broker_families()]


def _broker_families() -> list[GaugeMetricFamily]:
    import redis

    from dcp.health import default_config, heartbeat_age

    config = default_config()
    depth = GaugeMetricFamily(
        "dcp_celery_queue_length", "Tasks waiting per queue.", labels=["queue"]
    )
    workers = GaugeMetricFamily(
        "dcp_celery_worker_heartbeat_age_seconds",
        "Age of each worker's heartbeat.",
        labels=["worker"],
    )
    beat = GaugeMetricFamily("dcp_celery_beat_heartbeat_age_seconds", "Age of beat's heartbeat.")
    up = GaugeMetricFamily("dcp_broker_up", "1 when the Celery broker (Redis) answered.")
    try:
        client = redis.Redis.from_url(config.redis_url, socket_timeout=2, socket_connect_timeout=2)
        # A broker configured with kombu's global_keyprefix keeps its queues under that prefix.
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
        prefix = options.get("global_keyprefix", "")
        with client.pipeline(transaction=False) as pipe:
            for queue in QUEUES:
                pipe.llen(f"{prefix}{queue}")
            lengths = pipe.execute()
        for queue, n in zip(QUEUES, lengths, strict=True):
            depth.add_metric([queue], n)
        keys = list(client.scan_iter(match=f"{config.heartbeat_prefix}:worker:*", count=100))
        for key, raw in zip(keys, client.mget(keys) if keys else [], strict=True):
            age = heartbeat_age(raw)
            if age is not None:
                workers.add_metric([key.decode().rsplit(":", 1)[-1]], age)
        age = heartbeat_age(client.get(f"{config.heartbeat_prefix}:beat"))
        if age is not None:
            beat.add_metric([], age)
        up.add_metric([], 1)
    except Exception as exc:
        log.warning("broker metrics not collected: %s", exc)
        up.add_metric([], 0)
    return [depth, workers, beat, up]


def _readiness_families() -> list[GaugeMetricFamily]:
    from dcp.health import cached_checks

    ready = GaugeMetricFamily("dcp_ready", "1 when the readiness check passes.", labels=["check"])
    for result in cached_checks():
        ready.add_metric([result.name], 1 if result.ok else 0)
    return [ready]


class DomainCollector(Collector):
    """Collects the scrape-time gauges, cached for DCP_METRICS_CACHE_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[float, list[GaugeMetricFamily]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ttl = settings.DCP_METRICS_CACHE_SECONDS
        with self._lock:
            if self._cached is None or ttl <= 0 or time.monotonic() - self._cached[0] >= ttl:
                started = time.perf_counter()
                families = [*collect_domain(), *_readiness_families()]
                took = GaugeMetricFamily(
                    "dcp_metrics_collection_seconds", "Time the last domain collection took."
                )
                took.add_metric([], time.perf_counter() - started)
                self._cached = (time.monotonic(), [*families, took])
            yield from self._cached[1]


DOMAIN = DomainCollector()


def registry_for_scrape() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return registry


def render() -> bytes:
    request_side = generate_latest(registry_for_scrape())
    domain_side = generate_latest(_DomainOnly())
    return request_side + domain_side


class _DomainOnly(CollectorRegistry):
    """A throwaway registry view holding only the domain collector (so it is never registered
    twice and never written to multiprocess files)."""

    def __init__(self) -> None:
        super().__init__(auto_describe=False)
        self.register(DOMAIN)


# --- access and view ----------------------------------------------------------------------


def has_metrics_token(request: HttpRequest) -> bool:
    expected = settings.DCP_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), expected.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    user = getattr(request, "user", None)
    staff = bool(user is not None and user.is_authenticated and getattr(user, "staff_role", ""))
    if not (staff or has_metrics_token(request)):
        response = HttpResponse("metrics need a bearer token or a DCP staff session\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def families_by_name(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Parse an exposition into {sample name: [(labels, value)]} (tests, runbook scripts)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


__all__ = (
    "MetricsMiddleware",
    "metrics_view",
    "observe_l4_response",
    "observe_send_ack",
    "observe_status_delay",
    "observe_sync_ack",
)
