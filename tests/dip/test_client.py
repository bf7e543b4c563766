"""dip.client against a real local HTTPS server with mTLS that checks every signature."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from dip.backoff import RetryPolicy
from dip.client import DipClient, Outcome, build_ssl_context, encode_messages
from dip.signing import SigningIdentity

try:
    from tests.dip import pki_fixtures as fx
except ImportError:
    import pki_fixtures as fx  # type: ignore[no-redef]

from_fx = fx
Reply, json_reply, standard_response = fx.Reply, fx.json_reply, fx.standard_response
BODY = encode_messages([{"payload": {"CommonBlock": {"S0": {"interfaceID": "IF-021"}}}}])


def make_client(base_url: str, *, sleeps: list[float] | None = None, **kw: object) -> DipClient:
    signer = fx.signer()
    context = build_ssl_context(
        client_cert_pem=signer.chain_pem, client_key_pem=signer.key_pem, ca_pem=fx.root().cert_pem
    )
    record = sleeps if sleeps is not None else []
    kw.setdefault(
        "retry", RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_total_wait=5)
    )
    return DipClient(
        base_url=base_url,
        api_key=fx.API_KEY,
        identity=SigningIdentity.from_pem(key_pem=signer.key_pem, cert_pem=signer.cert_pem),
        ssl_context=context,
        rng=random.Random(7),
        sleep=record.append,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def dip():
    with fx.FakeDip() as server:
        yield server


def test_201_accepted_signed_with_mtls_and_body_untouched(dip: fx.FakeDip) -> None:
    dip.queue(json_reply(201, standard_response()))
    with make_client(dip.base_url) as client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.ACCEPTED and result.accepted
    assert result.status_code == 201 and result.attempts == 1
    assert result.response is not None
    assert result.response.items[0].transaction_id.startswith("T-IF-021")  # type: ignore[union-attr]
    assert result.codes == ["MSG0000"]
    [request] = dip.requests
    assert request.signature_ok, "independent verifier must accept our signature"
    assert request.method == "POST" and request.path == "/dip-channel/IF-021"
    assert request.body == BODY  # exact bytes: never re-serialised
    assert request.headers["X-API-Key"] == fx.API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.client_subject == "dcp.test signer"  # mTLS client certificate presented


def test_400_is_final_and_not_retried(dip: fx.FakeDip) -> None:
    dip.queue(json_reply(400, standard_response("MSG1001 -Schema Failure")))
    sleeps: list[float] = []
    with make_client(dip.base_url, sleeps=sleeps) as client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.REJECTED and result.status_code == 400
    assert result.codes == ["MSG1001"]
    assert len(dip.requests) == 1 and sleeps == []


@pytest.mark.parametrize("status", [401, 403, 404, 413, 505])
def test_other_final_statuses(dip: fx.FakeDip, status: int) -> None:
    dip.queue(Reply(status))
    with make_client(dip.base_url) as client:
        assert client.send("IF-021", BODY).outcome is Outcome.REJECTED
    assert len(dip.requests) == 1


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_transient_status_then_201_is_retried(dip: fx.FakeDip, status: int) -> None:
    dip.queue(Reply(status), json_reply(201, standard_response()))
    sleeps: list[float] = []
    with make_client(dip.base_url, sleeps=sleeps) as client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.ACCEPTED and result.attempts == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.01
    assert [r.body for r in dip.requests] == [BODY, BODY]
    assert all(r.signature_ok for r in dip.requests)
    assert (
        dip.requests[0].headers["X-DIP-Signature-Date"]
        <= dip.requests[1].headers["X-DIP-Signature-Date"]
    )


def test_429_retry_after_is_honoured(dip: fx.FakeDip) -> None:
    dip.queue(Reply(429, headers={"Retry-After": "2"}), json_reply(201, standard_response()))
    sleeps: list[float] = []
    with make_client(dip.base_url, sleeps=sleeps) as client:
        result = client.send("IF-021", BODY)
    assert result.accepted and sleeps == [2.0]


def test_retry_after_beyond_the_budget_gives_up_for_the_caller_to_reschedule(
    dip: fx.FakeDip,
) -> None:
    dip.queue(Reply(429, headers={"Retry-After": "60"}))
    sleeps: list[float] = []
    with make_client(dip.base_url, sleeps=sleeps) as client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.RETRYABLE and result.retry_after == 60.0
    assert sleeps == [] and len(dip.requests) == 1


def test_max_wait_is_respected(dip: fx.FakeDip) -> None:
    dip.queue(*[Reply(503)] * 20)
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=20, base_delay=0.2, max_delay=1.0, max_total_wait=1.5)
    with make_client(dip.base_url, sleeps=sleeps, retry=policy) as client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.RETRYABLE and result.status_code == 503
    assert sum(sleeps) <= 1.5 and result.waited == pytest.approx(sum(sleeps))
    assert result.attempts == len(sleeps) + 1 == len(dip.requests)


def test_max_attempts(dip: fx.FakeDip) -> None:
    dip.queue(*[Reply(500)] * 10)
    with make_client(dip.base_url) as client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.RETRYABLE and result.attempts == 4 == len(dip.requests)


def test_timeout_is_retryable(dip: fx.FakeDip) -> None:
    dip.queue(Reply(201, delay=1.0), Reply(201, delay=1.0))
    policy = RetryPolicy(max_attempts=2, base_delay=0.0)
    with make_client(dip.base_url, timeout=0.2, retry=policy) as client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.RETRYABLE and result.status_code is None
    assert result.error is not None and result.error.startswith("timeout")
    assert result.attempts == 2


def test_connection_refused_is_retryable() -> None:
    sleeps: list[float] = []
    with make_client(f"https://127.0.0.1:{fx.unused_port()}", sleeps=sleeps) as client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.RETRYABLE and result.status_code is None
    assert result.error is not None and result.attempts == 4 and len(sleeps) == 3


def test_server_rejects_a_client_without_certificate(dip: fx.FakeDip) -> None:
    signer = fx.signer()
    client = DipClient(
        base_url=dip.base_url,
        api_key=fx.API_KEY,
        identity=SigningIdentity.from_pem(key_pem=signer.key_pem, cert_pem=signer.cert_pem),
        ssl_context=build_ssl_context(ca_pem=fx.root().cert_pem),
        retry=RetryPolicy(max_attempts=1),
    )
    with client:
        result = client.send("IF-021", BODY)
    assert result.outcome is Outcome.RETRYABLE and result.status_code is None  # TLS failure
    assert dip.requests == []


def test_batches_reuse_one_pooled_connection(dip: fx.FakeDip) -> None:
    dip.queue(*[json_reply(201, standard_response())] * 3)
    with make_client(dip.base_url, limits=httpx.Limits(max_connections=1)) as client:
        results = client.send_batches("IF-021", [BODY, BODY + b" ", BODY])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert [r.body for r in dip.requests] == [BODY, BODY + b" ", BODY]


def test_status_messages_and_webhook_configuration(dip: fx.FakeDip) -> None:
    dip.queue(
        json_reply(201, standard_response("RCP0000 - Message Success")),
        Reply(201),
        Reply(204),
        Reply(201),
        Reply(204),
    )
    with make_client(dip.base_url) as client:
        assert client.submit_status_messages(b"[]").accepted
        assert client.register_webhook(
            "IF-021", "1409012345", "https://dcp.test/hook/IF-021"
        ).accepted
        assert client.delete_webhook("IF-021", "1409012345").accepted
        assert client.register_status_webhook(
            "1409012345", "https://dcp.test/status", max_message_count=100
        ).accepted
        assert client.delete_status_webhook("1409012345").accepted
    calls = [(r.method, r.path) for r in dip.requests]
    assert calls == [
        ("POST", "/statusmessage"),
        ("POST", "/dip-channel/IF-021/pubconfig/1409012345"),
        ("DELETE", "/dip-channel/IF-021/pubconfig/1409012345"),
        ("POST", "/statusmessage/config/1409012345"),
        ("DELETE", "/statusmessage/config/1409012345"),
    ]
    assert all(r.signature_ok for r in dip.requests)  # bodyless requests signed over "{}"
    assert json.loads(dip.requests[1].body) == {"callbackURL": "https://dcp.test/hook/IF-021"}
    assert json.loads(dip.requests[3].body) == {
        "callbackURL": "https://dcp.test/status",
        "maxMessageCount": 100,
    }


def test_path_segments_are_escaped(dip: fx.FakeDip) -> None:
    dip.queue(Reply(201))
    with make_client(dip.base_url) as client:
        client.send("IF-021/../x", BODY)
    assert dip.requests[0].path == "/dip-channel/IF-021%2F..%2Fx"
    assert dip.requests[0].signature_ok


def test_for_environment() -> None:
    urls = {"SIT": "https://sit.dip.example/api"}
    with make_client("unused").for_environment(
        "SIT",
        base_urls=urls,
        api_key="k",
        identity=SigningIdentity.from_pem(
            key_pem=fx.signer().key_pem, cert_pem=fx.signer().cert_pem
        ),
    ) as client:
        assert client.base_url == "https://sit.dip.example/api"
    with pytest.raises(ValueError):
        DipClient.for_environment("PROD", base_urls=urls)
    with pytest.raises(ValueError):
        DipClient.for_environment("PRD", base_urls=urls)


def test_ssl_context_from_pem_leaves_no_key_file_behind(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    build_ssl_context(client_cert_pem=fx.signer().cert_pem, client_key_pem=fx.signer().key_pem)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        build_ssl_context(client_cert_pem=fx.signer().cert_pem)
