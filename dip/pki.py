"""Development and test PKI: keys, a CA, intermediates and leaf certificates, PEM in and out.

The live DIP uses GlobalSign-issued certificates (PROTOCOL.md §3.7). Everything that is not the
live DIP — unit tests, the sandbox, a developer's laptop, the later local CA — needs a small
private PKI with the same shape: a root, optionally an intermediate, and leaves used for message
signing and for mTLS (client and server). Every function takes an explicit validity window so a
test can mint an expired or not-yet-valid certificate as easily as a good one.

Certificates are built to satisfy RFC 5280 / WebPKI profile checks (critical basicConstraints
and keyUsage, subject and authority key identifiers), so chain validation with
``cryptography.x509.verification`` accepts them exactly as it would accept real ones.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

DEFAULT_ORGANIZATION = "OpenDCP development PKI"


class KeyType(StrEnum):
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    EC_P256 = "ec-p256"


class Purpose(StrEnum):
    """What a leaf certificate is for; a leaf may have several purposes."""

    SIGNING = "signing"  # X-DIP-Signature message signing
    CLIENT = "client"  # mTLS client (the DCP calling the DIP)
    SERVER = "server"  # mTLS server (our webhook, the sandbox DIP)


def generate_key(key_type: KeyType = KeyType.RSA_2048) -> PrivateKey:
    if key_type is KeyType.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    bits = 3072 if key_type is KeyType.RSA_3072 else 2048
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def validity(
    *, days: float = 365, start: datetime | None = None, backdate: timedelta = timedelta(minutes=5)
) -> tuple[datetime, datetime]:
    """A ``(not_before, not_after)`` window: from ``start`` (default now minus ``backdate``)."""
    begin = start if start is not None else datetime.now(UTC) - backdate
    return begin, begin + timedelta(days=days)


@dataclass(frozen=True)
class Issued:
    """A certificate, its private key and the certificates above it (nearest issuer first)."""

    certificate: x509.Certificate
    private_key: PrivateKey
    issuers: tuple[x509.Certificate, ...] = field(default=())

    @property
    def cert_pem(self) -> bytes:
        return certificate_to_pem(self.certificate)

    @property
    def key_pem(self) -> bytes:
        return private_key_to_pem(self.private_key)

    @property
    def chain_pem(self) -> bytes:
        """This certificate followed by its intermediates (the root is not included)."""
        intermediates = [c for c in self.issuers if not _is_self_signed(c)]
        return b"".join(certificate_to_pem(c) for c in (self.certificate, *intermediates))

    @property
    def fingerprint_sha256(self) -> str:
        return fingerprint_sha256(self.certificate)

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``<stem>.crt`` (chain PEM) and ``<stem>.key`` (mode 0600); returns both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert_path.write_bytes(self.chain_pem)
        key_path.touch(mode=0o600, exist_ok=True)
        key_path.chmod(0o600)
        key_path.write_bytes(self.key_pem)
        return cert_path, key_path


def make_ca(
    *,
    common_name: str = "OpenDCP Dev Root CA",
    key: PrivateKey | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    path_length: int | None = None,
    organization: str = DEFAULT_ORGANIZATION,
) -> Issued:
    """A self-signed root CA (default validity: ten years from five minutes ago)."""
    key = key if key is not None else generate_key()
    nb, na = _window(not_before, not_after, default_days=3650)
    name = _name(common_name, organization)
    builder = _ca_builder(name, name, key.public_key(), key.public_key(), nb, na, path_length)
    return Issued(builder.sign(key, hashes.SHA256()), key)


def make_intermediate(
    *,
    issuer: Issued,
    common_name: str = "OpenDCP Dev Intermediate CA",
    key: PrivateKey | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    path_length: int | None = 0,
    organization: str = DEFAULT_ORGANIZATION,
) -> Issued:
    """A CA certificate signed by ``issuer`` (default validity: five years)."""
    key = key if key is not None else generate_key()
    nb, na = _window(not_before, not_after, default_days=1825)
    builder = _ca_builder(
        _name(common_name, organization),
        issuer.certificate.subject,
        key.public_key(),
        issuer.private_key.public_key(),
        nb,
        na,
        path_length,
    )
    cert = builder.sign(issuer.private_key, hashes.SHA256())
    return Issued(cert, key, (issuer.certificate, *issuer.issuers))


def make_leaf(
    *,
    issuer: Issued,
    common_name: str,
    purposes: Iterable[Purpose] = (Purpose.SIGNING,),
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    key: PrivateKey | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_usage: x509.KeyUsage | None = None,
    extended_key_usages: Iterable[x509.ObjectIdentifier] | None = None,
    organization: str = DEFAULT_ORGANIZATION,
) -> Issued:
    """An end-entity certificate signed by ``issuer`` (default validity: one year).

    ``key_usage`` / ``extended_key_usages`` override what ``purposes`` implies (tests use this
    to mint certificates that must be refused, e.g. a signing certificate without
    digitalSignature). A leaf without any SAN gets ``common_name`` as a DNS SAN when it is a
    server certificate.
    """
    key = key if key is not None else generate_key()
    wanted = frozenset(purposes)
    nb, na = _window(not_before, not_after, default_days=365)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if not sans and Purpose.SERVER in wanted:
        sans.append(x509.DNSName(common_name))
    if key_usage is None:
        encipher = Purpose.SERVER in wanted and isinstance(key, rsa.RSAPrivateKey)
        key_usage = _key_usage(digital_signature=True, key_encipherment=encipher)
    if extended_key_usages is None:
        ekus: list[x509.ObjectIdentifier] = []
        if Purpose.CLIENT in wanted or Purpose.SIGNING in wanted:
            ekus.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if Purpose.SERVER in wanted:
            ekus.append(ExtendedKeyUsageOID.SERVER_AUTH)
    else:
        ekus = list(extended_key_usages)
    builder = (
        _base_builder(
            _name(common_name, organization),
            issuer.certificate.subject,
            key.public_key(),
            issuer.private_key.public_key(),
            nb,
            na,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
    )
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(issuer.private_key, hashes.SHA256())
    return Issued(cert, key, (issuer.certificate, *issuer.issuers))


# --- PEM in / out -------------------------------------------------------------------------------


def certificate_to_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def private_key_to_pem(key: PrivateKey, *, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_certificate(data: bytes | str) -> x509.Certificate:
    """The first certificate in PEM (or DER) data."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    if b"-----BEGIN" in raw:
        return x509.load_pem_x509_certificate(raw)
    return x509.load_der_x509_certificate(raw)


def load_certificates(data: bytes | str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in file order."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    return x509.load_pem_x509_certificates(raw)


def load_private_key(data: bytes | str, *, password: bytes | None = None) -> PrivateKey:
    raw = data.encode("ascii") if isinstance(data, str) else data
    key = serialization.load_pem_private_key(raw, password=password)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def load_trust_roots(
    source: bytes | str | Path | x509.Certificate | Iterable[bytes | str | Path | x509.Certificate],
) -> list[x509.Certificate]:
    """Trust anchors from PEM bytes/text, PEM file paths, certificates, or a mix of these."""
    items: Iterable[bytes | str | Path | x509.Certificate] = (
        [source] if isinstance(source, bytes | str | Path | x509.Certificate) else source
    )
    roots: list[x509.Certificate] = []
    for item in items:
        if isinstance(item, x509.Certificate):
            roots.append(item)
        elif isinstance(item, Path):
            roots.extend(load_certificates(item.read_bytes()))
        else:
            roots.extend(load_certificates(item))
    return roots


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the DER certificate (the usual "thumbprint")."""
    return certificate.fingerprint(hashes.SHA256()).hex()


# --- internals ----------------------------------------------------------------------------------


def _window(
    not_before: datetime | None, not_after: datetime | None, *, default_days: int
) -> tuple[datetime, datetime]:
    nb = not_before if not_before is not None else datetime.now(UTC) - timedelta(minutes=5)
    na = not_after if not_after is not None else nb + timedelta(days=default_days)
    if na <= nb:
        raise ValueError("not_after must be later than not_before")
    return nb, na


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(
    *, digital_signature: bool = False, key_encipherment: bool = False, ca: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature or ca,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _base_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer_public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False
        )
    )


def _ca_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer_public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
) -> x509.CertificateBuilder:
    return (
        _base_builder(subject, issuer, public_key, issuer_public_key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
    )


def _is_self_signed(certificate: x509.Certificate) -> bool:
    return certificate.subject == certificate.issuer
