"""An independent DIP signer/verifier written straight from PROTOCOL.md §3.5, for cross-checks.

Deliberately shares no code with ``dip.signing``: it uses hashlib, base64 and textbook RSA
(RFC 8017 EMSA-PKCS1-v1_5 built by hand, ``pow`` for the RSA primitive). ``cryptography`` is
used only to read PEM files and to get at the key numbers. If both implementations agree on
each other's signatures, neither has quietly drifted from the spec.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# RFC 8017 §9.2 note 1: DER of DigestInfo{sha256, NULL} up to the 32-byte digest.
SHA256_PREFIX = bytes(
    [0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05]
) + bytes([0x00, 0x04, 0x20])


class IndependentVerifyError(Exception):
    pass


def body_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def date_header(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    millis = moment.microsecond // 1000
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def string_to_sign(method: str, url: str, date: str, content_hash: str) -> bytes:
    return (method.upper() + ";" + url.lower() + ";" + date + ";" + content_hash).encode("utf-8")


def emsa_pkcs1_v15(message: bytes, k: int) -> int:
    t = SHA256_PREFIX + hashlib.sha256(message).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return int.from_bytes(em, "big")


def sign(
    *, method: str, url: str, body: bytes, key_pem: bytes, cert_pem: bytes, date: str
) -> dict[str, str]:
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    k = (n.bit_length() + 7) // 8
    content_hash = body_hash(body)
    m = emsa_pkcs1_v15(string_to_sign(method, url, date, content_hash), k)
    signature = pow(m, d, n).to_bytes(k, "big")
    return {
        "X-DIP-Signature-Date": date,
        "X-DIP-Content-Hash": content_hash,
        "X-DIP-Signature-Certificate": base64.b64encode(cert_pem).decode("ascii"),
        "X-DIP-Signature": base64.b64encode(signature).decode("ascii"),
    }


def verify(*, method: str, url: str, body: bytes, headers: dict[str, str]) -> x509.Certificate:
    """Check hash and signature (not trust: the caller compares the certificate)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        date = lower["x-dip-signature-date"]
        content_hash = lower["x-dip-content-hash"]
        cert_b64 = lower["x-dip-signature-certificate"]
        sig_b64 = lower["x-dip-signature"]
    except KeyError as exc:
        raise IndependentVerifyError(f"missing {exc}") from exc
    if content_hash != body_hash(body):
        raise IndependentVerifyError("content hash mismatch")
    pem = base64.b64decode(cert_b64, validate=True)
    if not pem.startswith(b"-----BEGIN CERTIFICATE-----"):
        raise IndependentVerifyError("certificate header is not PEM text")
    cert = x509.load_pem_x509_certificate(pem)
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    n, e = public.public_numbers().n, public.public_numbers().e
    k = (n.bit_length() + 7) // 8
    signature = base64.b64decode(sig_b64, validate=True)
    if len(signature) != k:
        raise IndependentVerifyError("signature length")
    s = int.from_bytes(signature, "big")
    if s >= n or pow(s, e, n) != emsa_pkcs1_v15(string_to_sign(method, url, date, content_hash), k):
        raise IndependentVerifyError("signature does not verify")
    return cert
