"""Importing a client's own key and certificate: PEM and PKCS#12, and every bad case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from django.core.exceptions import ValidationError

from certificates import selectors, services
from certificates.models import Certificate
from dip import pki

from .conftest import DIP_ID


@pytest.fixture(scope="module")
def ca():
    root = pki.make_ca(common_name="Client Root")
    return root, pki.make_intermediate(issuer=root, common_name="Client Issuing CA")


def _leaf(ca, **kw):
    return pki.make_leaf(issuer=ca[1], common_name="client.example", **kw)


def _import(**kw):
    return services.import_certificate(
        environment="UIT", usage="signing", dip_ids=[DIP_ID], actor=None, **kw
    )


def _pem_kwargs(leaf, ca):
    chain = pki.certificate_to_pem(ca[1].certificate) + pki.certificate_to_pem(ca[0].certificate)
    return {
        "certificate_pem": leaf.cert_pem.decode(),
        "key_pem": leaf.key_pem.decode(),
        "chain_pem": chain.decode(),
    }


def _p12(leaf, ca, password=b"s3cret-pass"):
    return pkcs12.serialize_key_and_certificates(
        b"client",
        leaf.private_key,
        leaf.certificate,
        [ca[1].certificate, ca[0].certificate],
        BestAvailableEncryption(password),
    )


def _code(call):
    with pytest.raises(ValidationError) as exc:
        call()
    return exc.value.code


def test_pem_import_becomes_active_and_signs(in_alpha, ca):
    leaf = _leaf(ca)
    cert = _import(**_pem_kwargs(leaf, ca))
    assert cert.state == Certificate.State.ACTIVE and cert.provider == "imported"
    assert cert.fingerprint_sha256 == leaf.fingerprint_sha256
    assert "Client Issuing CA" in cert.chain_pem or cert.chain_pem.count("BEGIN CERTIFICATE") == 2
    current = selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT")
    assert current.fingerprint == leaf.fingerprint_sha256


def test_pkcs12_import(in_alpha, ca):
    leaf = _leaf(ca)
    cert = _import(pkcs12=_p12(leaf, ca), password="s3cret-pass")
    assert cert.state == Certificate.State.ACTIVE
    assert cert.private_key.source == "imported"


def test_duplicate_import_refused(in_alpha, ca):
    leaf = _leaf(ca)
    _import(**_pem_kwargs(leaf, ca))
    assert _code(lambda: _import(**_pem_kwargs(leaf, ca))) == "duplicate"


def test_key_and_certificate_that_do_not_match(in_alpha, ca):
    leaf, other = _leaf(ca), _leaf(ca)
    kwargs = _pem_kwargs(leaf, ca) | {"key_pem": other.key_pem.decode()}
    assert _code(lambda: _import(**kwargs)) == "key_mismatch"


def test_expired_certificate(in_alpha, ca):
    now = datetime.now(UTC)
    leaf = _leaf(ca, not_before=now - timedelta(days=400), not_after=now - timedelta(days=1))
    assert _code(lambda: _import(**_pem_kwargs(leaf, ca))) == "certificate_expired"


def test_not_yet_valid_certificate(in_alpha, ca):
    now = datetime.now(UTC)
    leaf = _leaf(ca, not_before=now + timedelta(days=2), not_after=now + timedelta(days=300))
    assert _code(lambda: _import(**_pem_kwargs(leaf, ca))) == "certificate_not_yet_valid"


def test_wrong_chain(in_alpha, ca):
    leaf = _leaf(ca)
    stranger = pki.make_ca(common_name="Someone Else Root")
    kwargs = _pem_kwargs(leaf, ca) | {"chain_pem": stranger.cert_pem.decode()}
    assert _code(lambda: _import(**kwargs)) == "chain_invalid"


def test_missing_chain(in_alpha, ca):
    kwargs = _pem_kwargs(_leaf(ca), ca) | {"chain_pem": ""}
    assert _code(lambda: _import(**kwargs)) == "chain_invalid"


def test_corrupted_pkcs12(in_alpha, ca):
    data = bytearray(_p12(_leaf(ca), ca))
    data[len(data) // 2 : len(data) // 2 + 16] = b"\x00" * 16
    assert _code(lambda: _import(pkcs12=bytes(data), password="s3cret-pass")) in {
        "pkcs12_invalid",
        "pkcs12_password",
    }
    assert _code(lambda: _import(pkcs12=b"not a pfx at all", password="x")) == "pkcs12_invalid"


def test_pkcs12_wrong_password(in_alpha, ca):
    assert _code(lambda: _import(pkcs12=_p12(_leaf(ca), ca), password="wrong")) == "pkcs12_password"


def test_garbage_pem(in_alpha):
    assert _code(lambda: _import(certificate_pem="hello", key_pem="world")) == "pem_invalid"


def test_nothing_given(in_alpha):
    assert _code(lambda: _import()) == "required"
