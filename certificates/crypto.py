"""Key, CSR and certificate handling with coded errors (no database writes here).

Parsing of client-supplied material (PEM, PKCS#12) lives here so every bad input maps to one
``invalid(...)`` code: ``key_mismatch``, ``certificate_expired``, ``certificate_not_yet_valid``,
``chain_invalid``, ``pkcs12_invalid``, ``pkcs12_password``, ``pem_invalid``, ``key_unsupported``,
``usage_unsupported``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from dcp.errors import invalid
from dip import pki
from dip.pki import PrivateKey

from .models import KeyType, Usage


def generate_key(key_type: str) -> PrivateKey:
    return pki.generate_key(pki.KeyType(key_type))


def key_type_of(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name != "secp256r1":
            raise invalid("Only EC P-256 keys are accepted.", code="key_unsupported", field="key")
        return KeyType.EC_P256
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size in (2048, 3072):
        return KeyType.RSA_2048 if key.key_size == 2048 else KeyType.RSA_3072
    raise invalid("Only RSA 2048/3072 or EC P-256 keys are accepted.", code="key_unsupported")


def check_usage(key_type: str, usage: str) -> None:
    if key_type == KeyType.EC_P256 and usage != Usage.MTLS_CLIENT:
        raise invalid(
            "DIP message signatures are RSA PKCS#1 v1.5: EC keys can only be used for mTLS.",
            code="usage_unsupported",
            field="usage",
        )


def public_key_sha256(key: Any) -> str:
    """SHA-256 of the SubjectPublicKeyInfo of a private or public key."""
    public = key.public_key() if hasattr(key, "private_bytes") else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def build_csr(*, key: PrivateKey, common_name: str, organization: str, dns_names: list[str]) -> str:
    """A PKCS#10 request: C=GB, O=<organisation>, CN=<common name>, DNS SANs (DIP PKI shape)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in dns_names]), critical=False
        )
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class CertificateFacts:
    """What the inventory shows about a certificate."""

    subject: str
    issuer: str
    sans: list[str]
    serial: str
    fingerprint_sha256: str
    fingerprint_sha1: str
    not_before: datetime
    not_after: datetime


def facts(certificate: x509.Certificate) -> CertificateFacts:
    try:
        ext = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = [str(v) for v in ext.value.get_values_for_type(x509.DNSName)]
        sans += [str(v) for v in ext.value.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        sans = []
    return CertificateFacts(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        sans=sans,
        serial=format(certificate.serial_number, "x"),
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        fingerprint_sha1=certificate.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - display only
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def to_pem(certificates: list[x509.Certificate]) -> str:
    return "".join(pki.certificate_to_pem(c).decode("ascii") for c in certificates)


@dataclass(frozen=True)
class Bundle:
    """A parsed key + leaf certificate + issuers, checked for consistency."""

    key: PrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate]


def parse_pem_bundle(
    *, certificate_pem: str, key_pem: str, chain_pem: str = "", password: str = ""
) -> Bundle:
    try:
        certs = pki.load_certificates(certificate_pem.strip())
    except ValueError:
        certs = []
    if not certs:
        raise invalid("Not a PEM certificate.", code="pem_invalid", field="certificate_pem")
    try:
        key = pki.load_private_key(key_pem.strip(), password=password.encode() or None)
    except TypeError:
        raise invalid(
            "The private key is encrypted: give its password (or a wrong password was given).",
            code="key_password",
            field="password",
        ) from None
    except ValueError:
        raise invalid(
            "Not a PEM private key, or the password is wrong.", code="pem_invalid", field="key_pem"
        ) from None
    chain = list(certs[1:])
    if chain_pem.strip():
        try:
            chain += pki.load_certificates(chain_pem.strip())
        except ValueError:
            raise invalid("Not a PEM chain.", code="pem_invalid", field="chain_pem") from None
    return Bundle(key, certs[0], chain)


def parse_pkcs12(data: bytes, password: str) -> Bundle:
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError as exc:
        text = str(exc).lower()
        if "password" in text or "mac" in text:
            raise invalid(
                "Wrong PKCS#12 password.", code="pkcs12_password", field="password"
            ) from None
        raise invalid(
            "Not a readable PKCS#12 (PFX) file.", code="pkcs12_invalid", field="pkcs12"
        ) from None
    if key is None or certificate is None:
        raise invalid(
            "The PKCS#12 file must contain a private key and its certificate.",
            code="pkcs12_invalid",
            field="pkcs12",
        )
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise invalid("Unsupported key type in PKCS#12.", code="key_unsupported", field="pkcs12")
    return Bundle(key, certificate, list(extra))


def validate_bundle(bundle: Bundle, *, at: datetime, trust_roots: list[x509.Certificate]) -> None:
    """Key matches certificate; certificate valid now; chain verifies to a root we were given
    (roots inside the bundle are accepted as anchors when no other roots are configured)."""
    if public_key_sha256(bundle.key) != public_key_sha256(bundle.certificate.public_key()):
        raise invalid(
            "The private key does not belong to the certificate.", code="key_mismatch", field="key"
        )
    if bundle.certificate.not_valid_after_utc <= at:
        raise invalid(
            f"The certificate expired on {bundle.certificate.not_valid_after_utc:%Y-%m-%d %H:%M}.",
            code="certificate_expired",
            field="certificate",
        )
    if bundle.certificate.not_valid_before_utc > at:
        raise invalid(
            f"The certificate is not valid before "
            f"{bundle.certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.",
            code="certificate_not_yet_valid",
            field="certificate",
        )
    roots = list(trust_roots) + [c for c in bundle.chain if c.subject == c.issuer]
    intermediates = [c for c in bundle.chain if c.subject != c.issuer]
    if bundle.certificate.subject == bundle.certificate.issuer:
        raise invalid("Self-signed certificates are not accepted by the DIP.", code="chain_invalid")
    if not roots:
        raise invalid(
            "Include the issuing chain up to the root CA.", code="chain_invalid", field="chain"
        )
    verifier = (
        PolicyBuilder()
        .store(Store(roots))
        .time(at)
        .extension_policies(  # as dip.signing: DIP signing certificates need no SAN
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(bundle.certificate, intermediates)
    except VerificationError as exc:
        raise invalid(
            f"The certificate chain does not verify: {exc}", code="chain_invalid", field="chain"
        ) from None


def key_to_pem(key: PrivateKey) -> str:
    return pki.private_key_to_pem(key).decode("ascii")
