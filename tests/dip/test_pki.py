"""dip.pki: the development PKI produces certificates with the requested shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from dip import pki


@pytest.mark.parametrize(
    ("kind", "cls", "size"),
    [
        (pki.KeyType.RSA_2048, rsa.RSAPrivateKey, 2048),
        (pki.KeyType.RSA_3072, rsa.RSAPrivateKey, 3072),
        (pki.KeyType.EC_P256, ec.EllipticCurvePrivateKey, 256),
    ],
)
def test_generate_key(kind: pki.KeyType, cls: type, size: int) -> None:
    key = pki.generate_key(kind)
    assert isinstance(key, cls) and key.key_size == size


def test_ca_intermediate_leaf_chain_shape() -> None:
    root = pki.make_ca(common_name="R", path_length=1)
    inter = pki.make_intermediate(issuer=root, common_name="I")
    leaf = pki.make_leaf(
        issuer=inter,
        common_name="L",
        purposes=(pki.Purpose.SERVER, pki.Purpose.CLIENT),
        dns_names=("dip.test",),
        ip_addresses=("127.0.0.1",),
    )
    assert root.certificate.issuer == root.certificate.subject
    bc = root.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    assert inter.certificate.issuer == root.certificate.subject
    assert inter.issuers == (root.certificate,)
    assert leaf.issuers == (inter.certificate, root.certificate)
    leaf.certificate.verify_directly_issued_by(inter.certificate)
    inter.certificate.verify_directly_issued_by(root.certificate)
    ku = leaf.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and not ku.key_cert_sign
    eku = leaf.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = leaf.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["dip.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert pki.load_certificates(leaf.chain_pem) == [leaf.certificate, inter.certificate]


def test_explicit_validity_windows() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    nb, na = pki.validity(days=10, start=start)
    root = pki.make_ca(not_before=nb, not_after=na)
    assert root.certificate.not_valid_before_utc == start
    assert root.certificate.not_valid_after_utc == start + timedelta(days=10)
    with pytest.raises(ValueError):
        pki.make_ca(not_before=na, not_after=nb)


def test_pem_round_trips_and_trust_roots(tmp_path) -> None:
    root = pki.make_ca(key=pki.generate_key(pki.KeyType.EC_P256))
    leaf = pki.make_leaf(issuer=root, common_name="signer")
    assert pki.load_certificate(leaf.cert_pem) == leaf.certificate
    assert pki.load_certificate(leaf.cert_pem.decode()) == leaf.certificate
    assert pki.load_private_key(leaf.key_pem).public_key() == leaf.private_key.public_key()
    locked = pki.private_key_to_pem(leaf.private_key, password=b"pw")
    assert b"ENCRYPTED" in locked
    assert (
        pki.load_private_key(locked, password=b"pw").public_key() == leaf.private_key.public_key()
    )
    cert_path, key_path = leaf.write(tmp_path / "out", "signer")
    assert key_path.stat().st_mode & 0o777 == 0o600
    roots = pki.load_trust_roots([cert_path, root.cert_pem, root.certificate])
    assert roots == [leaf.certificate, root.certificate, root.certificate]
    assert pki.load_trust_roots(root.cert_pem) == [root.certificate]
    assert len(leaf.fingerprint_sha256) == 64


def test_leaf_overrides_for_negative_tests() -> None:
    root = pki.make_ca()
    usage = x509.KeyUsage(False, True, False, False, False, False, False, False, False)
    leaf = pki.make_leaf(issuer=root, common_name="x", key_usage=usage, extended_key_usages=[])
    assert not leaf.certificate.extensions.get_extension_for_class(
        x509.KeyUsage
    ).value.digital_signature
    with pytest.raises(x509.ExtensionNotFound):
        leaf.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
