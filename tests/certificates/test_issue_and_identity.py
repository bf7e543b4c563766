"""Local CA issuance, sealed keys, the inventory facts and signing_identity_for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.x509.verification import PolicyBuilder, Store
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from certificates import selectors, services
from certificates.models import Certificate, CertificateAuthority, PrivateKey
from certificates.providers.local_ca import local_ca_certificate
from dip import pki
from dip.signing import Verifier, sign_request

from .conftest import DIP_ID, OTHER_DIP_ID, issue

URL = "https://dip.example/api/dip-channel/if-021"


def test_local_ca_issues_an_active_certificate_with_a_sealed_key(in_alpha, admin):
    cert = issue(actor=admin, dns_names=["signing.alpha.example"])
    assert cert.state == Certificate.State.ACTIVE
    assert cert.dip_ids == [DIP_ID]
    assert (
        cert.subject.endswith("CN=signing.alpha.example") or "signing.alpha.example" in cert.subject
    )
    assert cert.sans == ["signing.alpha.example"]
    assert len(cert.fingerprint_sha256) == 64 and cert.serial
    assert cert.not_before <= datetime.now(UTC) < cert.not_after
    key_row = PrivateKey.objects.get(pk=cert.private_key_id)
    assert "PRIVATE KEY" not in key_row.sealed_pem and key_row.sealed_pem.startswith("v1.")
    ca = CertificateAuthority.objects.get(environment="UIT")
    assert "PRIVATE KEY" not in ca.sealed_key_pem
    leaf = pki.load_certificate(cert.certificate_pem)
    verifier = PolicyBuilder().store(Store([local_ca_certificate("UIT")])).build_client_verifier()
    verifier.verify(leaf, [])  # chains to the environment's local CA
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"certificates.requested", "certificates.issued"} <= actions


def test_signing_identity_signs_and_verifies(in_alpha):
    cert = issue()
    current = selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT")
    assert current.certificate_id == cert.pk and current.fingerprint == cert.fingerprint_sha256
    body = b'[{"payload":{}}]'
    headers = sign_request(method="POST", url=URL, body=body, identity=current.identity)
    verified = Verifier([local_ca_certificate("UIT")]).verify(
        method="POST", url=URL, body=body, headers=headers
    )
    assert verified.fingerprint_sha256 == cert.fingerprint_sha256


def test_no_identity_for_other_dip_id_environment_or_usage(in_alpha):
    issue()
    with pytest.raises(selectors.NoCurrentCertificate):
        selectors.signing_identity_for(dip_id=OTHER_DIP_ID, environment="UIT")
    with pytest.raises(selectors.NoCurrentCertificate):
        selectors.signing_identity_for(dip_id=DIP_ID, environment="PRD")
    with pytest.raises(selectors.NoCurrentCertificate):
        selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT", usage="mtls_client")


def test_never_returns_expired_or_not_yet_valid(in_alpha):
    cert = issue()
    with pytest.raises(selectors.NoCurrentCertificate):
        selectors.signing_identity_for(
            dip_id=DIP_ID, environment="UIT", at=cert.not_after + timedelta(seconds=1)
        )
    with pytest.raises(selectors.NoCurrentCertificate):
        selectors.signing_identity_for(
            dip_id=DIP_ID, environment="UIT", at=cert.not_before - timedelta(seconds=1)
        )


def test_ec_keys_are_mtls_only(in_alpha):
    with pytest.raises(ValidationError) as exc:
        issue(key_type="ec-p256", usage="signing")
    assert exc.value.code == "usage_unsupported"
    cert = issue(key_type="ec-p256", usage="mtls_client")
    current = selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT", usage="mtls_client")
    assert current.certificate_id == cert.pk and current.identity is None


def test_bad_dip_id_is_refused(in_alpha):
    with pytest.raises(ValidationError) as exc:
        issue(dip_ids=("short",))
    assert exc.value.code == "dip_id_invalid"


def test_rsa_3072(in_alpha):
    cert = issue(key_type="rsa-3072")
    assert cert.private_key.key_type == "rsa-3072"
    assert (
        selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT").certificate_id == cert.pk
    )


def test_second_issue_in_slot_becomes_next(in_alpha):
    first = issue()
    second = issue()
    assert second.state == Certificate.State.NEXT and second.renewal_of_id == first.pk
    assert second.switch_over_at is not None
    assert services.slot_of(second).filter(pk=first.pk).exists()
