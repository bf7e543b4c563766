"""DIP message signing and verification (PROTOCOL.md §3.5, §3.6, §4.3).

Every DIP request and callback carries four headers::

    X-DIP-Signature-Date         YYYY-MM-DDThh:mm:ss.fffZ (UTC, milliseconds)
    X-DIP-Content-Hash           base64(sha256(raw body bytes))
    X-DIP-Signature-Certificate  base64(PEM text of the signing certificate)
    X-DIP-Signature              base64(RSASSA-PKCS1-v1_5-SHA256(signing string))

with the signing string ``METHOD;lowercase(full url);X-DIP-Signature-Date;X-DIP-Content-Hash``.

:func:`sign_request` produces the headers; :class:`Verifier` checks them and raises
:class:`SignatureVerificationError` (a :class:`~dip.errors.SignatureError`) with a distinct
:class:`VerificationReason` for every way a message can fail. Parsed certificates and
chain-validation results are cached per certificate header, so verifying a stream of messages
from one signer costs one SHA-256 of the body and one RSA public-key operation each.
"""

from __future__ import annotations

import binascii
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import NamedTuple, NoReturn

import pybase64
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from dip.errors import SignatureError
from dip.pki import certificate_to_pem, fingerprint_sha256, load_private_key

SIGNATURE_DATE = "X-DIP-Signature-Date"
CONTENT_HASH = "X-DIP-Content-Hash"
SIGNATURE_CERTIFICATE = "X-DIP-Signature-Certificate"
SIGNATURE = "X-DIP-Signature"
API_KEY = "X-API-Key"
SIGNATURE_HEADERS = (SIGNATURE_DATE, CONTENT_HASH, SIGNATURE_CERTIFICATE, SIGNATURE)

# Header size caps: far above anything legitimate, low enough that junk costs nothing.
_MAX_CERTIFICATE_HEADER = 65_536
_MAX_SIGNATURE_HEADER = 2_048
_MAX_DATE_HEADER = 64
_CONTENT_HASH_LENGTH = 44  # base64 of 32 bytes, padded
# DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1): EMSA-PKCS1-v1_5 "encode and compare".
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_NEGATIVE_CACHE_TTL = timedelta(minutes=5)


def content_hash(body: bytes) -> str:
    """``X-DIP-Content-Hash``: standard, padded base64 of the SHA-256 digest (not hex)."""
    return binascii.b2a_base64(hashlib.sha256(body).digest(), newline=False).decode("ascii")


def format_signature_date(moment: datetime) -> str:
    """``X-DIP-Signature-Date``: UTC with milliseconds and ``Z`` (JavaScript ``toISOString()``)."""
    if moment.tzinfo is None:
        raise ValueError("signature date must be timezone-aware")
    t = moment.astimezone(UTC)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z"


def signing_string(*, method: str, url: str, signature_date: str, content_hash: str) -> bytes:
    """``UPPER(method);lower(url);date;hash`` as UTF-8 — the bytes that are signed."""
    return f"{method.upper()};{url.lower()};{signature_date};{content_hash}".encode()


def certificate_header(certificate: x509.Certificate) -> str:
    """``X-DIP-Signature-Certificate``: base64 of the PEM text (LF line endings)."""
    pem = certificate_to_pem(certificate).replace(b"\r\n", b"\n")
    return binascii.b2a_base64(pem, newline=False).decode("ascii")


class SigningIdentity:
    """An RSA private key and its certificate, ready to sign (key object and header cached)."""

    __slots__ = ("certificate", "certificate_header", "fingerprint_sha256", "private_key")

    def __init__(self, private_key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise TypeError("DIP signatures are RSA PKCS#1 v1.5: an RSA private key is required")
        if certificate.public_key() != private_key.public_key():
            raise ValueError("the certificate does not belong to the private key")
        self.private_key = private_key
        self.certificate = certificate
        self.certificate_header = certificate_header(certificate)
        self.fingerprint_sha256 = fingerprint_sha256(certificate)

    @classmethod
    def from_pem(
        cls, *, key_pem: bytes | str, cert_pem: bytes | str, password: bytes | None = None
    ) -> SigningIdentity:
        key = load_private_key(key_pem, password=password)
        raw = cert_pem.encode("ascii") if isinstance(cert_pem, str) else cert_pem
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("DIP signatures are RSA PKCS#1 v1.5: an RSA private key is required")
        return cls(key, x509.load_pem_x509_certificate(raw))

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, _PKCS1, _SHA256)


def sign_request(
    *, method: str, url: str, body: bytes, identity: SigningIdentity, now: datetime | None = None
) -> dict[str, str]:
    """The four ``X-DIP-*`` headers for one request. ``body`` is the exact bytes sent."""
    date = format_signature_date(now if now is not None else datetime.now(UTC))
    digest = content_hash(body)
    to_sign = signing_string(method=method, url=url, signature_date=date, content_hash=digest)
    return {
        SIGNATURE_DATE: date,
        CONTENT_HASH: digest,
        SIGNATURE_CERTIFICATE: identity.certificate_header,
        SIGNATURE: binascii.b2a_base64(identity.sign(to_sign), newline=False).decode("ascii"),
    }


# --- verification -------------------------------------------------------------------------------


class VerificationReason(StrEnum):
    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    MALFORMED_REQUEST = "malformed_request"
    CONTENT_HASH_MISMATCH = "content_hash_mismatch"
    SIGNATURE_DATE_INVALID = "signature_date_invalid"
    SIGNATURE_DATE_STALE = "signature_date_stale"
    SIGNATURE_DATE_FUTURE = "signature_date_future"
    CERTIFICATE_UNPARSEABLE = "certificate_unparseable"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_UNTRUSTED = "certificate_untrusted"
    CERTIFICATE_NOT_PINNED = "certificate_not_pinned"
    CERTIFICATE_KEY_USAGE = "certificate_key_usage"
    CERTIFICATE_KEY_UNSUPPORTED = "certificate_key_unsupported"
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_INVALID = "signature_invalid"


class SignatureVerificationError(SignatureError):
    """A message failed verification; ``reason`` says which check, ``code`` is the DIP code.

    Every reason maps to ``RCP9999`` ("Message Signature Invalid"): response_codes.csv has no
    narrower code for transport-level signature, hash, certificate or signature-date failures
    (RCP1007/RCP1008 concern ``S1.senderTimestamp`` in the payload, not the signature date).
    """

    code = "RCP9999"

    def __init__(self, reason: VerificationReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class VerifiedSignature(NamedTuple):
    """Who signed a verified message, and when (a tuple: cheap to build on the hot path)."""

    certificate: x509.Certificate
    fingerprint_sha256: str
    subject: str
    signed_at: datetime


class _Entry:
    """What we know about one certificate header, independent of the message."""

    __slots__ = (
        "certificate",
        "checked_at",
        "error",
        "extra",
        "fingerprint",
        "modulus_len",
        "not_after",
        "not_before",
        "ok_from",
        "ok_until",
        "public_key",
        "subject",
        "untrusted_detail",
    )

    def __init__(self) -> None:
        self.certificate: x509.Certificate | None = None
        self.extra: list[x509.Certificate] = []
        self.public_key: rsa.RSAPublicKey | None = None
        self.modulus_len = 0
        self.fingerprint = ""
        self.subject = ""
        self.not_before = self.not_after = _NEVER_FROM
        self.error: tuple[VerificationReason, str] | None = None  # time-independent failure
        # Window in which leaf and chain are known good, in epoch seconds (the hot path
        # compares it with time.time()); empty until the chain verified.
        self.ok_from, self.ok_until = _NEVER_FROM_TS, _NEVER_UNTIL_TS
        self.checked_at: datetime | None = None  # when an untrusted verdict was reached
        self.untrusted_detail = ""


_NEVER_FROM = datetime.max.replace(tzinfo=UTC)
_NEVER_UNTIL = datetime.min.replace(tzinfo=UTC)
_NEVER_FROM_TS, _NEVER_UNTIL_TS = float("inf"), float("-inf")
_WINDOW_STEP = 0.25  # seconds; see Verifier.__init__
_time = time.time
_fromiso = datetime.fromisoformat


_utcnow: Callable[[], datetime] = partial(datetime.now, UTC)  # C-level call: no Python frame
_new_tuple = tuple.__new__
_sha256 = hashlib.sha256
_b2a = binascii.b2a_base64
_b64decode = pybase64.b64decode


def _fail(reason: VerificationReason, message: str) -> SignatureVerificationError:
    return SignatureVerificationError(reason, message)


class Verifier:
    """Verify DIP signature headers against configured trust roots.

    ``trust_roots``: CA certificates the signing certificate must chain to (through the
    configured ``intermediates`` or any extra certificates in the header's PEM text).
    ``pinned_fingerprints``: if given, the signing certificate's SHA-256 fingerprint (hex,
    colons and case ignored) must be one of them — PROTOCOL.md §4.3 step 3.
    Thread-safe; one instance per trust configuration, shared by all requests.
    """

    def __init__(
        self,
        trust_roots: Iterable[x509.Certificate],
        *,
        intermediates: Iterable[x509.Certificate] = (),
        max_clock_skew: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = _utcnow,
        pinned_fingerprints: Iterable[str] | None = None,
        cache_size: int = 1024,
    ) -> None:
        roots = list(trust_roots)
        if not roots:
            raise ValueError("at least one trust root is required")
        self._store = Store(roots)
        self._intermediates = list(intermediates)
        self._skew = max_clock_skew
        self._clock = clock
        # With the system clock the accepted signature-date window is computed at most every
        # _WINDOW_STEP seconds (its edges move by at most that much late: immaterial against
        # a skew of minutes) so the hot path reads time.time() instead of building datetimes.
        self._coarse = clock is _utcnow
        self._window: tuple[datetime, datetime] = (_NEVER_FROM, _NEVER_UNTIL)
        self._window_until = float("-inf")
        self._pins = (
            None
            if pinned_fingerprints is None
            else frozenset(p.replace(":", "").strip().lower() for p in pinned_fingerprints)
        )
        self._cache: dict[str, _Entry] = {}  # insertion order: the oldest is evicted first
        self._cache_size = max(1, cache_size)
        self._lock = threading.Lock()

    def verify(
        self, *, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> VerifiedSignature:
        """Check every header; return who signed and when, or raise SignatureVerificationError."""
        try:
            # Hot path: kept flat on purpose (each helper call costs measurable time per message).
            date_h: str | None
            hash_h: str | None
            cert_h: str | None
            sig_h: str | None
            try:
                date_h, hash_h = headers[SIGNATURE_DATE], headers[CONTENT_HASH]
                cert_h, sig_h = headers[SIGNATURE_CERTIFICATE], headers[SIGNATURE]
                exact = str is type(date_h) is type(hash_h) is type(cert_h) is type(sig_h)
            except KeyError:
                exact = False
            if not exact:
                date_h, hash_h, cert_h, sig_h = _lookup_insensitive(headers)
            if not (date_h and hash_h and cert_h and sig_h):
                _missing(date_h, hash_h, cert_h, sig_h)
            if hash_h.encode() != _b2a(_sha256(body).digest(), newline=False):
                if len(hash_h) != _CONTENT_HASH_LENGTH:
                    raise _fail(
                        VerificationReason.MALFORMED_HEADER,
                        f"{CONTENT_HASH} must be 44 base64 characters, got {len(hash_h)}",
                    )
                raise _fail(
                    VerificationReason.CONTENT_HASH_MISMATCH,
                    f"{CONTENT_HASH} does not match the SHA-256 of the {len(body)}-byte body",
                )
            if self._coarse:  # the system clock: a window re-centred every _WINDOW_STEP seconds
                now = _time()
                if now >= self._window_until:
                    self._slide_window(now)
                earliest, latest = self._window
            else:  # an injected clock (tests, replays of recorded traffic): exact
                moment = self._clock()
                now = moment.timestamp()
                earliest, latest = moment - self._skew, moment + self._skew
            try:
                signed_at = _fromiso(date_h) if len(date_h) < _MAX_DATE_HEADER else None
            except ValueError:
                signed_at = None
            if signed_at is None or signed_at.tzinfo is None:
                _bad_date(date_h)
            if signed_at < earliest:
                raise _fail(
                    VerificationReason.SIGNATURE_DATE_STALE,
                    f"{SIGNATURE_DATE} {date_h} is older than the allowed skew of {self._skew}",
                )
            if signed_at > latest:
                raise _fail(
                    VerificationReason.SIGNATURE_DATE_FUTURE,
                    f"{SIGNATURE_DATE} {date_h} is further in the future than {self._skew}",
                )
            entry = self._cache.get(cert_h)
            if entry is None or not entry.ok_from <= now <= entry.ok_until:
                entry = self._certificate(cert_h, self._clock())
            if len(sig_h) > _MAX_SIGNATURE_HEADER:
                raise _fail(VerificationReason.SIGNATURE_MALFORMED, f"{SIGNATURE} is too long")
            try:
                # SIMD, stricter than binascii's strict mode; positional (altchars=None,
                # validate=True): pybase64 parses keywords at twice the cost of the decode.
                signature = _b64decode(sig_h, None, True)
            except (binascii.Error, ValueError) as exc:
                raise _fail(
                    VerificationReason.SIGNATURE_MALFORMED, f"{SIGNATURE} is not valid base64"
                ) from exc
            public_key, certificate = entry.public_key, entry.certificate
            if public_key is None or certificate is None or len(signature) != entry.modulus_len:
                raise _fail(
                    VerificationReason.SIGNATURE_MALFORMED,
                    f"{SIGNATURE} is {len(signature)} bytes; the key needs {entry.modulus_len}",
                )
            to_sign = f"{method.upper()};{url.lower()};{date_h};{hash_h}".encode()
            try:
                # RSA public operation + PKCS#1 type-1 padding check by OpenSSL, then an exact
                # comparison of the whole DigestInfo (RFC 8017 §8.2.2 "encode and compare").
                recovered = public_key.recover_data_from_signature(signature, _PKCS1, None)
            except (InvalidSignature, ValueError):
                recovered = b""
            if recovered != _SHA256_DIGEST_INFO + _sha256(to_sign).digest():
                raise _fail(
                    VerificationReason.SIGNATURE_INVALID,
                    f"{SIGNATURE} does not verify for {method.upper()} {url} with the key of "
                    f"{entry.subject}",
                )
            return _new_tuple(
                VerifiedSignature, (certificate, entry.fingerprint, entry.subject, signed_at)
            )
        except SignatureVerificationError:
            raise
        except Exception as exc:  # never leak parser/crypto internals to callers
            raise _fail(
                VerificationReason.MALFORMED_REQUEST,
                f"request could not be verified ({type(exc).__name__})",
            ) from exc

    def _slide_window(self, now: float) -> None:
        moment = datetime.fromtimestamp(now, UTC)
        self._window = (moment - self._skew, moment + self._skew)
        self._window_until = now + _WINDOW_STEP

    # -- certificate handling (cached) -----------------------------------------------------------

    def _certificate(self, header: str, now: datetime) -> _Entry:
        """Slow path: parse (or re-check) a certificate header; raise on any problem."""
        with self._lock:
            entry = self._cache.get(header)
            if entry is None:
                entry = self._parse(header)
                self._cache[header] = entry
                if len(self._cache) > self._cache_size:
                    del self._cache[next(iter(self._cache))]
            if entry.error is not None:
                raise _fail(*entry.error)
            if now < entry.not_before:
                raise _fail(
                    VerificationReason.CERTIFICATE_NOT_YET_VALID,
                    f"signing certificate {entry.subject} is not valid before "
                    f"{entry.not_before.isoformat()}",
                )
            if now > entry.not_after:
                raise _fail(
                    VerificationReason.CERTIFICATE_EXPIRED,
                    f"signing certificate {entry.subject} expired at {entry.not_after.isoformat()}",
                )
            if not entry.ok_from <= now.timestamp() <= entry.ok_until:
                self._check_chain(entry, now)
            return entry

    def _parse(self, header: str) -> _Entry:
        entry = _Entry()
        try:
            if len(header) > _MAX_CERTIFICATE_HEADER:
                raise ValueError("header too long")
            pem = binascii.a2b_base64(header, strict_mode=True)
            if b"-----BEGIN CERTIFICATE-----" not in pem:
                raise ValueError("not PEM")
            certs = x509.load_pem_x509_certificates(pem)
        except Exception as exc:  # garbage base64, not PEM, broken DER — all the same to us
            entry.error = (
                VerificationReason.CERTIFICATE_UNPARSEABLE,
                f"{SIGNATURE_CERTIFICATE} is not base64 of a PEM X.509 certificate ({exc})",
            )
            return entry
        cert = certs[0]
        entry.certificate, entry.extra = cert, certs[1:]
        entry.fingerprint = fingerprint_sha256(cert)
        entry.subject = cert.subject.rfc4514_string()
        entry.not_before, entry.not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        if self._pins is not None and entry.fingerprint not in self._pins:
            entry.error = (
                VerificationReason.CERTIFICATE_NOT_PINNED,
                f"signing certificate {entry.subject} (sha256 {entry.fingerprint}) is not pinned",
            )
            return entry
        try:
            usage: x509.KeyUsage | None = cert.extensions.get_extension_for_class(
                x509.KeyUsage
            ).value
        except x509.ExtensionNotFound:
            usage = None  # RFC 5280 §4.2.1.3: absent means unrestricted
        except ValueError as exc:
            entry.error = (
                VerificationReason.CERTIFICATE_UNPARSEABLE,
                f"bad certificate extensions: {exc}",
            )
            return entry
        if usage is not None and not usage.digital_signature:
            entry.error = (
                VerificationReason.CERTIFICATE_KEY_USAGE,
                f"signing certificate {entry.subject} does not allow digitalSignature",
            )
            return entry
        public_key = cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            entry.error = (
                VerificationReason.CERTIFICATE_KEY_UNSUPPORTED,
                f"signing certificate {entry.subject} has a {type(public_key).__name__}; DIP "
                "signatures are RSA",
            )
            return entry
        entry.public_key = public_key
        entry.modulus_len = (public_key.key_size + 7) // 8
        return entry

    def _check_chain(self, entry: _Entry, now: datetime) -> None:
        if entry.checked_at is not None and now - entry.checked_at < _NEGATIVE_CACHE_TTL:
            raise _fail(VerificationReason.CERTIFICATE_UNTRUSTED, self._untrusted_message(entry))
        if entry.certificate is None:  # pragma: no cover - _parse sets an error instead
            raise _fail(VerificationReason.CERTIFICATE_UNPARSEABLE, "no certificate")
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(now)
            .extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=ExtensionPolicy.permit_all(),  # usage checked by us; no SAN needed
            )
            .build_client_verifier()
        )
        try:
            chain = verifier.verify(entry.certificate, entry.extra + self._intermediates).chain
        except VerificationError as exc:
            entry.checked_at = now
            entry.ok_from, entry.ok_until = _NEVER_FROM_TS, _NEVER_UNTIL_TS
            entry.untrusted_detail = str(exc).split(" (encountered processing")[0]
            raise _fail(
                VerificationReason.CERTIFICATE_UNTRUSTED, self._untrusted_message(entry)
            ) from exc
        entry.checked_at = None
        entry.ok_from = max(c.not_valid_before_utc for c in chain).timestamp()
        entry.ok_until = min(c.not_valid_after_utc for c in chain).timestamp()

    @staticmethod
    def _untrusted_message(entry: _Entry) -> str:
        detail = entry.untrusted_detail or "unknown issuer or invalid chain"
        return f"signing certificate {entry.subject} does not chain to a trusted root: {detail}"


def _missing(*values: str | None) -> NoReturn:
    missing = [n for n, v in zip(SIGNATURE_HEADERS, values, strict=True) if not v]
    raise _fail(VerificationReason.MISSING_HEADER, f"missing header(s): {', '.join(missing)}")


def _lookup_insensitive(
    headers: Mapping[str, str],
) -> tuple[str | None, str | None, str | None, str | None]:
    """Case-insensitive lookup for plain dicts; bytes values (raw ASGI/WSGI) are decoded."""
    found: dict[str, str] = {}
    for key, value in headers.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        elif not isinstance(value, str):
            raise _fail(VerificationReason.MALFORMED_HEADER, f"header {name} is not text")
        found[name.lower()] = value
    get = found.get
    return (
        get(SIGNATURE_DATE.lower()),
        get(CONTENT_HASH.lower()),
        get(SIGNATURE_CERTIFICATE.lower()),
        get(SIGNATURE.lower()),
    )


def _bad_date(value: str) -> NoReturn:
    shown = value if len(value) < _MAX_DATE_HEADER else value[:_MAX_DATE_HEADER] + "..."
    raise _fail(
        VerificationReason.SIGNATURE_DATE_INVALID,
        f"{SIGNATURE_DATE} {shown!r} is not an ISO 8601 date-time with a time zone "
        "(expected e.g. 2025-04-01T06:10:00.123Z)",
    )
