"""SSRF guard (issue 17, point 3). Found: client endpoint URLs and alert-rule webhook URLs
accepted loopback, private and link-local addresses (127.0.0.1:9111 got 20 signed POSTs after a
replay; 169.254.169.254, [::1]:<redis>, localhost:<pg> were accepted too). Now every such URL is
refused at save time with a coded 400, and at connect time the address actually connected to
is checked again, so a DNS name that changes its answer after the save (rebinding) is refused.
Each test sets OUTBOUND_URL_ALLOW itself (the test settings allow loopback for the pipeline's
local client systems)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from django_tenants.utils import tenant_context

from console import alerts
from console.models import Alert, AlertRule
from dcp.net.http import guarded_client
from messaging import services as store
from messaging.inbound import endpoints, push
from messaging.inbound.models import ClientEndpoint, DeliveryAttempt
from messaging.models import Message
from messaging.states import State
from tenants.roles import ClientRole
from tests.conftest import HostClient, host_of
from tests.factories import member
from tests.sandbox.conftest import Pki
from tests.sandbox.conftest import pki as pki
from tests.security.webhook_setup import delivery, make_hook, post

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.215.14"  # a global unicast address; nothing is ever sent to it here
REFUSED = [
    "http://127.0.0.1:9111/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:63799/",
    "http://localhost:54329/",
    "http://10.0.0.8/hook",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://0.0.0.0:8000/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://user@127.0.0.1/",
]
# 127.0.0.1 spelt as the resolver reads it: DRF's URLField refuses these forms already, the
# service (also called by the UI) sees through them because it resolves, not string-matches.
ODD_FORMS = ["http://2130706433/", "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://127.1/"]


@pytest.fixture
def admin_a(tenant_a: Any) -> Any:
    return member(tenant_a, ClientRole.CLIENT_ADMIN)


@pytest.fixture
def api(tenant_a: Any, admin_a: Any) -> HostClient:
    client = HostClient(host_of(tenant_a), raise_request_exception=False)
    client.force_login(admin_a, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def strict(settings: Any) -> Any:
    """Production's policy for addresses: no exceptions."""
    settings.OUTBOUND_URL_ALLOW = []
    return settings


class Listener:
    """An HTTP server on 127.0.0.1 standing in for an internal service; records every call."""

    def __init__(self) -> None:
        calls = self.calls = []  # type: list[str]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                calls.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


class RebindingDns:
    """An attacker's DNS server: ``name`` answers a public address first (the save-time
    check), then 127.0.0.1 (the connection). Other names resolve normally."""

    def __init__(self, name: str, answers: list[str]) -> None:
        self.name, self.answers, self.asked = name, answers, 0
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, int(port or 80)))]


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> RebindingDns:
    dns = RebindingDns(f"hooks-{uuid.uuid4().hex[:8]}.rebind.test", [PUBLIC_IP, "127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    return dns


# -- save time -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED)
def test_client_endpoint_with_internal_address_is_refused(
    api: HostClient, strict: Any, tenant_a: Any, url: str
) -> None:
    resp = api.post(
        "/api/v1/client-endpoints/", {"name": "hook", "url": url}, content_type="application/json"
    )
    assert resp.status_code == 400, resp.content[:300]
    body = resp.json()
    assert body["code"] == "url_private_address", body
    assert "url" in body["details"] and "public addresses" in body["message"]
    with tenant_context(tenant_a):
        assert not ClientEndpoint.objects.exists()


@pytest.mark.parametrize("url", ODD_FORMS)
def test_odd_spellings_of_loopback_are_refused_by_the_service(
    strict: Any, tenant_a: Any, admin_a: Any, url: str
) -> None:
    from django.core.exceptions import ValidationError

    with tenant_context(tenant_a), pytest.raises(ValidationError) as refused:
        endpoints.create_endpoint(name="hook", url=url, actor=admin_a)
    assert refused.value.code == "url_private_address"


def test_allow_list_covers_only_what_it_names(api: HostClient, settings: Any) -> None:
    settings.OUTBOUND_URL_ALLOW = ["127.0.0.1:9000"]  # another port of the same host
    url = "http://127.0.0.1:9111/x"
    resp = api.post(
        "/api/v1/client-endpoints/", {"name": "hook", "url": url}, content_type="application/json"
    )
    assert resp.status_code == 400 and resp.json()["code"] == "url_private_address"
    settings.OUTBOUND_URL_ALLOW = ["127.0.0.1:9111"]
    resp = api.post(
        "/api/v1/client-endpoints/", {"name": "hook", "url": url}, content_type="application/json"
    )
    assert resp.status_code == 201, resp.content[:300]


def test_own_database_and_redis_ports_are_refused_even_when_loopback_is_allowed(
    api: HostClient, settings: Any
) -> None:
    """`make run` allows loopback (the demo's client systems); the finding's [::1]:<redis> and
    localhost:<pg> stay refused there, at save time and on connect."""
    from urllib.parse import urlsplit

    settings.OUTBOUND_URL_ALLOW = ["127.0.0.0/8", "::1", "localhost"]  # dcp.settings.dev
    pg = int(settings.DATABASES["default"]["PORT"] or 5432)
    redis = urlsplit(settings.CACHES["default"]["LOCATION"]).port
    for url in (f"http://[::1]:{redis}/", f"http://localhost:{pg}/", f"http://127.0.0.1:{redis}/"):
        resp = api.post(
            "/api/v1/client-endpoints/",
            {"name": "hook", "url": url},
            content_type="application/json",
        )
        assert resp.status_code == 400, (url, resp.content[:300])
        assert resp.json()["code"] == "url_private_address"
        with guarded_client(timeout=5) as client, pytest.raises(httpx.ConnectError) as refused:
            client.post(url, content=b"PING")
        assert "own database, cache or broker" in str(refused.value)
    resp = api.post(
        "/api/v1/client-endpoints/",
        {"name": "hook", "url": "http://127.0.0.1:9111/x"},
        content_type="application/json",
    )
    assert resp.status_code == 201


def test_public_address_is_accepted_and_update_is_checked_too(api: HostClient, strict: Any) -> None:
    resp = api.post(
        "/api/v1/client-endpoints/",
        {"name": "hook", "url": f"https://{PUBLIC_IP}/hook"},
        content_type="application/json",
    )
    assert resp.status_code == 201, resp.content[:300]
    pk = resp.json()["id"]
    resp = api.patch(
        f"/api/v1/client-endpoints/{pk}/",
        {"url": "http://169.254.169.254/"},
        content_type="application/json",
    )
    assert resp.status_code == 400 and resp.json()["code"] == "url_private_address"


def test_https_only_refuses_plain_http(api: HostClient, strict: Any) -> None:
    strict.OUTBOUND_HTTPS_ONLY = True
    resp = api.post(
        "/api/v1/client-endpoints/",
        {"name": "hook", "url": f"http://{PUBLIC_IP}/hook"},
        content_type="application/json",
    )
    assert resp.status_code == 400 and resp.json()["code"] == "url_scheme"


def test_name_not_in_dns_yet_is_saved_and_refused_when_it_cannot_be_checked(
    api: HostClient, strict: Any
) -> None:
    """Nothing to refuse at save time (the client may set up DNS later); the connection
    resolves and checks again, and a name that still does not resolve is not called."""
    url = f"https://{uuid.uuid4().hex}.invalid/hook"
    resp = api.post(
        "/api/v1/client-endpoints/", {"name": "hook", "url": url}, content_type="application/json"
    )
    assert resp.status_code == 201, resp.content[:300]
    with guarded_client(timeout=5) as client, pytest.raises(httpx.ConnectError) as refused:
        client.post(url)
    assert "does not resolve" in str(refused.value)


def test_name_with_any_internal_answer_is_refused(
    api: HostClient, strict: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns = RebindingDns("mixed.rebind.test", [PUBLIC_IP])
    real = dns.real

    def both(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == dns.name:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, 443)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 443)),
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", both)
    resp = api.post(
        "/api/v1/client-endpoints/",
        {"name": "hook", "url": f"https://{dns.name}/hook"},
        content_type="application/json",
    )
    assert resp.status_code == 400 and resp.json()["code"] == "url_private_address"


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://[::1]:63799/"])
def test_alert_rule_webhook_with_internal_address_is_refused(
    api: HostClient, strict: Any, tenant_a: Any, url: str
) -> None:
    resp = api.post(
        "/console/alerts/",
        {
            "name": "ops",
            "kind": AlertRule.Kind.FAILURE_RATE,
            "threshold": 1,
            "window_minutes": 60,
            "webhook_url": url,
        },
    )
    assert resp.status_code == 400
    assert b"public addresses" in resp.content
    with tenant_context(tenant_a):
        assert not AlertRule.objects.exists()


# -- connect time (DNS rebinding) ----------------------------------------------------------------


def test_rebinding_name_passes_the_save_check_but_is_refused_on_connect(
    strict: Any, rebinding: RebindingDns, listener: Listener
) -> None:
    from dcp.net.outbound import check_url

    url = f"http://{rebinding.name}:{listener.port}/x"
    assert check_url(url) == url  # first answer: a public address
    with guarded_client(timeout=5) as client, pytest.raises(httpx.ConnectError) as refused:
        client.post(url, content=b"{}")
    assert "outbound URL policy" in str(refused.value)
    assert "127.0.0.1" in str(refused.value) and "loopback" in str(refused.value)
    assert listener.calls == []


def test_guarded_client_reaches_what_the_allow_list_names(
    settings: Any, listener: Listener
) -> None:
    settings.OUTBOUND_URL_ALLOW = [f"127.0.0.1:{listener.port}"]
    with guarded_client(timeout=5) as client:
        assert client.post(f"http://127.0.0.1:{listener.port}/ok").status_code == 204
    assert listener.calls == ["/ok"]


def test_guarded_client_ignores_environment_proxies(
    strict: Any, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would connect for us, unchecked: the guarded client never uses one."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{listener.port}")
    with guarded_client(timeout=5) as client, pytest.raises(httpx.ConnectError):
        client.post("http://169.254.169.254/latest/meta-data/")
    assert listener.calls == []


def _validated_inbound_message(tenant: Any, pki: Pki, settings: Any) -> Message:
    hook = make_hook(tenant, pki.dcp, settings, str(pki.ca_path))
    txn = f"SSRF-{uuid.uuid4().hex[:12]}"
    assert post(hook, delivery(txn)).status_code == 201
    with tenant_context(tenant):
        message = Message.objects.get(transaction_id=txn)
        store.transition(message, State.VALIDATED, actor="test", reason="L4 passed")
    return message


@pytest.mark.parametrize("allowed", [False, True], ids=["strict", "allow-listed"])
def test_push_to_a_rebinding_endpoint_is_refused_at_connect_time(
    tenant_a: Any,
    admin_a: Any,
    pki: Pki,
    settings: Any,
    rebinding: RebindingDns,
    listener: Listener,
    allowed: bool,
) -> None:
    settings.OUTBOUND_URL_ALLOW = [f"127.0.0.1:{listener.port}"] if allowed else []
    _validated_inbound_message(tenant_a, pki, settings)
    with tenant_context(tenant_a):
        made = endpoints.create_endpoint(
            name="rebinding",
            url=f"http://{rebinding.name}:{listener.port}/hook",
            actor=admin_a,
            from_seq=0,
        )
        assert push.enqueue_new_events() == [made.endpoint.pk]
        outcome = push.push_endpoint(made.endpoint.pk)
        attempts = list(DeliveryAttempt.objects.filter(delivery__endpoint=made.endpoint))
    if allowed:  # the control: the same path does deliver where the policy allows it
        assert outcome.sent >= 1 and listener.calls
        return
    assert outcome.sent == 0 and outcome.failed == 1
    assert listener.calls == []
    [attempt] = attempts
    assert attempt.status_code is None and "outbound URL policy" in attempt.error


@pytest.mark.parametrize("allowed", [False, True], ids=["strict", "allow-listed"])
def test_alert_webhook_to_a_rebinding_name_is_refused_at_connect_time(
    api: HostClient,
    tenant_a: Any,
    settings: Any,
    rebinding: RebindingDns,
    listener: Listener,
    allowed: bool,
) -> None:
    from django.utils import timezone

    settings.OUTBOUND_URL_ALLOW = [f"127.0.0.1:{listener.port}"] if allowed else []
    url = f"http://{rebinding.name}:{listener.port}/alert"
    form = {"name": "ops", "kind": AlertRule.Kind.FAILURE_RATE, "webhook_url": url}
    resp = api.post("/console/alerts/", {**form, "threshold": 1, "window_minutes": 60})
    assert resp.status_code == 302, resp.content[:500]  # saved: the name answered publicly
    with tenant_context(tenant_a):
        rule = AlertRule.objects.get(webhook_url=url)
        alert = Alert.objects.create(rule=rule, fired_at=timezone.now(), summary="breach")
        alerts.notify(alert)
        alert.refresh_from_db()
    if allowed:
        assert alert.notified["webhook"] == "204" and listener.calls == ["/alert"]
        return
    assert alert.notified["webhook"].startswith("failed: refused by the outbound URL policy")
    assert listener.calls == []


# -- the policy itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("2002:808:808::1", None),  # 6to4 of a public address
        ("64:ff9b::808:808", None),  # NAT64 of a public address (IPv6-only networks)
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "IPv4-mapped private"),
        ("2002:a9fe:a9fe::", "6to4 link-local"),
        ("64:ff9b::7f00:1", "NAT64 loopback"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel"),
        ("100.64.0.1", "not publicly routable"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
    ],
)
def test_address_policy(address: str, refused: str | None) -> None:
    import ipaddress

    from dcp.net.outbound import address_refusal

    assert address_refusal(ipaddress.ip_address(address)) == refused


@pytest.mark.parametrize(
    ("entry", "host", "port", "address", "covered"),
    [
        ("10.20.0.0/16", "10.20.3.4", 443, "10.20.3.4", True),
        ("10.20.0.0/16", "10.21.3.4", 443, "10.21.3.4", False),
        ("127.0.0.1:9111", "127.0.0.1", 9111, "127.0.0.1", True),
        ("127.0.0.1:9111", "127.0.0.1", 9112, "127.0.0.1", False),
        ("[::1]:8080", "::1", 8080, "::1", True),
        ("::1", "::1", 1234, "::1", True),
        ("hooks.internal:443", "HOOKS.internal", 443, "10.0.0.9", True),
        ("hooks.internal", "other.internal", 443, "10.0.0.9", False),
    ],
)
def test_allow_list_entries(entry: str, host: str, port: int, address: str, covered: bool) -> None:
    import ipaddress

    from dcp.net.outbound import parse_rule

    rule = parse_rule(entry)
    assert rule.covers(host=host, port=port, address=ipaddress.ip_address(address)) is covered


def test_production_settings_are_https_only_with_no_exceptions() -> None:
    from tests.dcp.test_settings import PROD_ENV, ROOT

    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from dcp.net.outbound import OutboundRefused, check_target\n"
        "print(settings.OUTBOUND_HTTPS_ONLY, settings.OUTBOUND_URL_ALLOW)\n"
        "for url in ('http://8.8.8.8/', 'https://127.0.0.1/'):\n"
        "    try:\n"
        "        check_target(url)\n"
        "    except OutboundRefused as exc:\n"
        "        print(exc.code)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DCP_OUTBOUND"))}
    env.update({"DJANGO_SETTINGS_MODULE": "dcp.settings.prod", **PROD_ENV})
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "[]", "url_scheme", "url_private_address"]
