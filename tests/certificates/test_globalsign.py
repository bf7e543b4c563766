"""Issuance, renewal faults and revocation through GlobalSign Atlas (a local stand-in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certificates import selectors, services
from certificates.models import Certificate
from certificates.providers import ProviderError
from certificates.providers.globalsign import AtlasProvider

from .atlas_standin import Atlas, serve
from .conftest import DIP_ID


@pytest.fixture
def atlas(tmp_path, settings):
    standin = Atlas(tmp_path)
    server, url = serve(standin)
    settings.GLOBALSIGN_ATLAS = {"UIT": standin.settings(url), "PRD": {"url": ""}}
    settings.CERTIFICATES_PROVIDER_TIMEOUT = 2.0
    yield standin
    server.shutdown()
    server.server_close()


def _request(**kw):
    return services.request_certificate(
        environment="UIT",
        usage="signing_mtls",
        dip_ids=[DIP_ID],
        common_name="dcp.alpha.example",
        dns_names=["dcp.alpha.example"],
        provider="globalsign",
        actor=None,
        enqueue=False,
        **kw,
    )


def test_issue_through_atlas(in_alpha, atlas):
    cert = services.issue_pending(certificate_id=_request().pk)
    assert cert.state == Certificate.State.ACTIVE and cert.provider == "globalsign"
    assert "Stand-in Atlas Issuing CA" in cert.issuer and cert.sans == ["dcp.alpha.example"]
    assert cert.provider_reference == format(int(cert.serial, 16), "X")
    assert cert.chain_pem.count("BEGIN CERTIFICATE") == 2
    methods = [(m, p.split("?")[0]) for m, p, _ in atlas.requests]
    assert methods[:3] == [
        ("POST", "/v2/login"),
        ("POST", "/v2/certificates"),
        ("GET", f"/v2/certificates/{cert.provider_reference}"),
    ]
    body = atlas.requests[1][2]
    assert (
        body["subject_dn"]["common_name"] == "dcp.alpha.example"
        and "BEGIN CERTIFICATE REQUEST" in body["csr"]
    )
    assert body["san"] == {"dns_names": ["dcp.alpha.example"]}
    current = selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT", usage="mtls_client")
    assert current.certificate_id == cert.pk


def test_asynchronous_issuance_is_collected_later(in_alpha, atlas):
    atlas.pending_polls = 1
    cert = services.issue_pending(certificate_id=_request().pk)
    assert cert.state == Certificate.State.PENDING and cert.provider_reference
    cert = services.issue_pending(certificate_id=cert.pk)
    assert cert.state == Certificate.State.ACTIVE
    assert sum(1 for m, p, _ in atlas.requests if m == "POST" and p == "/v2/certificates") == 1


def test_server_error_is_retryable_and_keeps_the_request(in_alpha, atlas):
    pending = _request()
    atlas.fail_next = [503]
    with pytest.raises(ProviderError) as exc:
        services.issue_pending(certificate_id=pending.pk)
    assert exc.value.retryable and exc.value.status == 503
    pending.refresh_from_db()
    assert pending.state == Certificate.State.PENDING and "503" in pending.last_error
    assert services.issue_pending(certificate_id=pending.pk).state == Certificate.State.ACTIVE


def test_refusal_is_permanent(in_alpha, atlas):
    pending = _request()
    provider = AtlasProvider.from_settings("UIT")
    provider.validation_policy()  # logs in
    atlas.fail_next = [422]
    with pytest.raises(ProviderError) as exc:
        services.issue_pending(certificate_id=pending.pk)
    assert not exc.value.retryable
    pending.refresh_from_db()
    assert pending.state == Certificate.State.FAILED


def test_timeout_is_retryable(in_alpha, atlas, settings):
    settings.CERTIFICATES_PROVIDER_TIMEOUT = 0.3
    atlas.delay = 0.6
    with pytest.raises(ProviderError) as exc:
        services.issue_pending(certificate_id=_request().pk)
    assert exc.value.retryable and "timed out" in str(exc.value)
    atlas.delay = 0


def test_bad_credentials(in_alpha, atlas, settings):
    settings.GLOBALSIGN_ATLAS = {"UIT": {**settings.GLOBALSIGN_ATLAS["UIT"], "api_secret": "nope"}}
    with pytest.raises(ProviderError) as exc:
        services.issue_pending(certificate_id=_request().pk)
    assert exc.value.status == 401 and not exc.value.retryable


def test_revoke_through_atlas(in_alpha, atlas):
    cert = services.issue_pending(certificate_id=_request().pk)
    services.revoke_certificate(certificate_id=cert.pk, reason="key_compromise", actor=None)
    assert atlas.certs[cert.provider_reference]["status"] == "REVOKED"
    patch = next(b for m, _, b in atlas.requests if m == "PATCH")
    assert patch["revocation_reason"] == "keyCompromise"


def test_domain_verification_status(in_alpha, atlas):
    expires = int((datetime.now(UTC) + timedelta(days=300)).timestamp())
    atlas.claims["C1"] = {
        "id": "C1",
        "status": "VERIFIED",
        "domain": "alpha.example.",
        "token": "t",
        "expires_at": expires,
        "last_verified_at": expires - 86400,
    }
    status = AtlasProvider.from_settings("UIT").domain_status("C1")
    assert status.verified and status.domain == "alpha.example" and status.expires_at is not None
