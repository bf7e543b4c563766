"""dip.signing: header format, sign/verify round trip, and every verification failure reason."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dip import pki
from dip.errors import SignatureError
from dip.signing import (
    CONTENT_HASH,
    SIGNATURE,
    SIGNATURE_CERTIFICATE,
    SIGNATURE_DATE,
    SignatureVerificationError,
    SigningIdentity,
    VerificationReason,
    Verifier,
    content_hash,
    format_signature_date,
    sign_request,
    signing_string,
)

try:
    from tests.dip import pki_fixtures as fx
except ImportError:
    import pki_fixtures as fx  # type: ignore[no-redef]

URL = "https://DIP.example/api/dip-channel/IF-021"
BODY = b'[{"payload":{}}]'
R = VerificationReason
# The instant each test signs and verifies at: taken when the test starts (never at import, so a
# slow or fast-running clock between collection and the test cannot push it outside the fixture
# PKI's validity). The verifier's clock is injected, so within a test "now" does not move.
NOW = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now() -> None:
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=123456)


def make_leaf(**kwargs: object) -> pki.Issued:
    """A leaf valid from a day before the test's NOW, unless the test says otherwise."""
    kwargs.setdefault("not_before", NOW - timedelta(days=1))
    return pki.make_leaf(**kwargs)  # type: ignore[arg-type]


def make_intermediate(**kwargs: object) -> pki.Issued:
    kwargs.setdefault("not_before", NOW - timedelta(days=1))
    return pki.make_intermediate(**kwargs)  # type: ignore[arg-type]


def identity(issued: pki.Issued | None = None) -> SigningIdentity:
    issued = issued or fx.signer()
    return SigningIdentity.from_pem(key_pem=issued.key_pem, cert_pem=issued.cert_pem)


def verifier(**kwargs: object) -> Verifier:
    kwargs.setdefault("intermediates", [fx.intermediate().certificate])
    kwargs.setdefault("clock", lambda: NOW)
    return Verifier([fx.root().certificate], **kwargs)  # type: ignore[arg-type]


def signed(
    issued: pki.Issued | None = None, *, now: datetime | None = None, **kw: str
) -> dict[str, str]:
    now = now or NOW
    method, url, body = kw.get("method", "POST"), kw.get("url", URL), BODY
    return sign_request(method=method, url=url, body=body, identity=identity(issued), now=now)


def reason_of(headers: dict[str, str], *, v: Verifier | None = None, **kw: object) -> R:
    call = {"method": "POST", "url": URL, "body": BODY} | kw
    with pytest.raises(SignatureVerificationError) as info:
        (v or verifier()).verify(headers=headers, **call)  # type: ignore[arg-type]
    assert isinstance(info.value, SignatureError)
    assert info.value.code == "RCP9999"
    assert info.value.message
    return info.value.reason


# --- the published test vectors (PROTOCOL.md §3.5) ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{}", "RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o="),
        (b"", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
        (b'[{"payload":{}}]', "8mG68dTiAIqxh5Wl3JLSjCOS5J6fJMROMLTWj+Ltrko="),
    ],
)
def test_content_hash_vectors(body: bytes, expected: str) -> None:
    assert content_hash(body) == expected


def test_signing_string_vector() -> None:
    date = format_signature_date(datetime(2025, 4, 1, 6, 10, 0, 123999, tzinfo=UTC))
    assert date == "2025-04-01T06:10:00.123Z"
    text = signing_string(
        method="post",
        url="https://dip.example/api/dip-channel/IF-021",
        signature_date=date,
        content_hash=content_hash(b'[{"payload":{}}]'),
    )
    assert text == (
        b"POST;https://dip.example/api/dip-channel/if-021;2025-04-01T06:10:00.123Z;"
        b"8mG68dTiAIqxh5Wl3JLSjCOS5J6fJMROMLTWj+Ltrko="
    )


def test_headers_have_the_spec_shape() -> None:
    h = signed()
    assert set(h) == {SIGNATURE_DATE, CONTENT_HASH, SIGNATURE_CERTIFICATE, SIGNATURE}
    assert h[SIGNATURE_DATE] == NOW.strftime("%Y-%m-%dT%H:%M:%S.123Z")
    assert h[SIGNATURE_CERTIFICATE].startswith("LS0tLS1CRUdJTiBDRVJU")  # "-----BEGIN CERT"
    assert base64.b64decode(h[SIGNATURE_CERTIFICATE]) == fx.signer().cert_pem
    signature = base64.b64decode(h[SIGNATURE])
    expected = signing_string(
        method="POST", url=URL, signature_date=h[SIGNATURE_DATE], content_hash=h[CONTENT_HASH]
    )
    fx.signer().certificate.public_key().verify(  # type: ignore[call-arg]
        signature,
        expected,
        padding.PKCS1v15(),
        hashes.SHA256(),  # type: ignore[arg-type]
    )


def test_identity_rejects_mismatched_or_non_rsa_keys() -> None:
    with pytest.raises(ValueError, match="does not belong"):
        SigningIdentity(fx.signer().private_key, fx.server_cert().certificate)  # type: ignore[arg-type]
    ec_leaf = make_leaf(
        issuer=fx.intermediate(), common_name="ec", key=pki.generate_key(pki.KeyType.EC_P256)
    )
    with pytest.raises(TypeError):
        SigningIdentity.from_pem(key_pem=ec_leaf.key_pem, cert_pem=ec_leaf.cert_pem)


# --- round trip ---------------------------------------------------------------------------------

methods = st.sampled_from(["GET", "POST", "DELETE", "PUT", "post", "Patch"])
paths = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters=";"),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=methods, path=paths, body=st.binary(max_size=4096))
def test_round_trip_and_every_mutation_is_rejected(method: str, path: str, body: bytes) -> None:
    url = f"https://dip.example/{path}"
    _verifier = verifier()
    h = sign_request(method=method, url=url, body=body, identity=identity(), now=NOW)
    result = _verifier.verify(method=method, url=url, body=body, headers=h)
    assert result.fingerprint_sha256 == fx.signer().fingerprint_sha256
    assert result.signed_at == NOW.replace(microsecond=123000)
    # case of method and URL does not matter (both are normalised in the signing string)
    if url.isascii():
        _verifier.verify(method=method.lower(), url=url.upper(), body=body, headers=h)

    def rejected(reason: R, **kw: object) -> None:
        call: dict[str, object] = {"method": method, "url": url, "body": body, "headers": h} | kw
        with pytest.raises(SignatureVerificationError) as info:
            _verifier.verify(**call)  # type: ignore[arg-type]
        assert info.value.reason is reason

    rejected(R.CONTENT_HASH_MISMATCH, body=body + b" ")
    rejected(R.SIGNATURE_INVALID, url=url + "x")
    rejected(R.SIGNATURE_INVALID, method=method + "X")
    later = format_signature_date(NOW + timedelta(seconds=1))
    rejected(R.SIGNATURE_INVALID, headers=h | {SIGNATURE_DATE: later})
    other_hash = content_hash(body + b"!")
    rejected(R.CONTENT_HASH_MISMATCH, headers=h | {CONTENT_HASH: other_hash})


@settings(max_examples=40, deadline=None)
@given(flip=st.integers(min_value=0, max_value=255 * 8 - 1))
def test_any_flipped_signature_bit_is_rejected(flip: int) -> None:
    h = signed()
    sig = bytearray(base64.b64decode(h[SIGNATURE]))
    sig[flip // 8] ^= 1 << (flip % 8)
    bad = h | {SIGNATURE: base64.b64encode(bytes(sig)).decode()}
    assert reason_of(bad) is R.SIGNATURE_INVALID


def test_header_names_are_case_insensitive_and_bytes_are_tolerated() -> None:
    h = signed()
    lower = {k.lower(): v for k, v in h.items()}
    assert verifier().verify(method="POST", url=URL, body=BODY, headers=lower)
    raw = {k.encode(): v.encode() for k, v in h.items()}
    assert verifier().verify(method="POST", url=URL, body=BODY, headers=raw)  # type: ignore[arg-type]


# --- one test per failure reason ----------------------------------------------------------------


@pytest.mark.parametrize("name", [SIGNATURE_DATE, CONTENT_HASH, SIGNATURE_CERTIFICATE, SIGNATURE])
def test_missing_header(name: str) -> None:
    h = signed()
    del h[name]
    assert reason_of(h) is R.MISSING_HEADER
    assert reason_of(h | {name: ""}) is R.MISSING_HEADER


def test_tampered_body() -> None:
    assert reason_of(signed(), body=BODY.replace(b"payload", b"Payload")) is R.CONTENT_HASH_MISMATCH


def test_malformed_content_hash() -> None:
    assert reason_of(signed() | {CONTENT_HASH: "abc"}) is R.MALFORMED_HEADER


def test_wrong_url_and_wrong_method() -> None:
    assert reason_of(signed(), url=URL.replace("IF-021", "IF-022")) is R.SIGNATURE_INVALID
    assert reason_of(signed(), method="PUT") is R.SIGNATURE_INVALID


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2025-04-01", "2025-04-01T06:10:00", "x" * 10_000, "2025-13-01T00:00:00Z"],
)
def test_signature_date_invalid(value: str) -> None:
    assert reason_of(signed() | {SIGNATURE_DATE: value}) is R.SIGNATURE_DATE_INVALID


def test_signature_date_stale_and_future_are_distinguished() -> None:
    assert reason_of(signed(now=NOW - timedelta(minutes=5, seconds=1))) is R.SIGNATURE_DATE_STALE
    assert reason_of(signed(now=NOW + timedelta(minutes=5, seconds=1))) is R.SIGNATURE_DATE_FUTURE
    verifier().verify(
        method="POST", url=URL, body=BODY, headers=signed(now=NOW - timedelta(minutes=4))
    )
    tight = verifier(max_clock_skew=timedelta(seconds=30))
    assert reason_of(signed(now=NOW - timedelta(minutes=1)), v=tight) is R.SIGNATURE_DATE_STALE


@pytest.mark.parametrize(
    "header",
    [
        "not base64 at all!!",
        base64.b64encode(b"hello").decode(),
        base64.b64encode(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        ).decode(),
        base64.b64encode(b"\x00" * 300).decode(),
        "A" * 70_000,
        "é" * 10,
    ],
)
def test_certificate_unparseable(header: str) -> None:
    assert reason_of(signed() | {SIGNATURE_CERTIFICATE: header}) is R.CERTIFICATE_UNPARSEABLE


def test_der_certificate_instead_of_pem_is_refused() -> None:
    der = fx.signer().certificate.public_bytes(
        encoding=__import__(
            "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
        ).Encoding.DER
    )
    assert (
        reason_of(signed() | {SIGNATURE_CERTIFICATE: base64.b64encode(der).decode()})
        is R.CERTIFICATE_UNPARSEABLE
    )


def test_expired_and_not_yet_valid_certificates() -> None:
    expired = make_leaf(
        issuer=fx.intermediate(),
        common_name="old",
        not_before=NOW - timedelta(days=400),
        not_after=NOW - timedelta(days=1),
    )
    assert reason_of(signed(expired)) is R.CERTIFICATE_EXPIRED
    future = make_leaf(
        issuer=fx.intermediate(),
        common_name="new",
        not_before=NOW + timedelta(days=1),
        not_after=NOW + timedelta(days=400),
    )
    assert reason_of(signed(future)) is R.CERTIFICATE_NOT_YET_VALID


def test_untrusted_root() -> None:
    stranger = make_leaf(issuer=fx.other_root(), common_name="stranger")
    assert reason_of(signed(stranger)) is R.CERTIFICATE_UNTRUSTED


def test_wrong_intermediate() -> None:
    # An intermediate with the same name but a different key: the issuer signature fails.
    impostor = make_intermediate(issuer=fx.other_root(), common_name="Test Intermediate CA")
    leaf = make_leaf(issuer=impostor, common_name="via impostor")
    assert reason_of(signed(leaf)) is R.CERTIFICATE_UNTRUSTED
    # Without the intermediate anywhere the chain cannot be built either.
    assert reason_of(signed(), v=verifier(intermediates=[])) is R.CERTIFICATE_UNTRUSTED


def test_intermediate_sent_in_the_header_is_used() -> None:
    chain_header = base64.b64encode(fx.signer().chain_pem).decode()
    h = signed() | {SIGNATURE_CERTIFICATE: chain_header}
    result = verifier(intermediates=[]).verify(method="POST", url=URL, body=BODY, headers=h)
    assert result.subject.startswith("CN=dcp.test signer")


def test_leaf_used_as_issuer_is_refused() -> None:
    fake_ca = pki.Issued(fx.signer().certificate, fx.signer().private_key, fx.signer().issuers)
    leaf = make_leaf(issuer=fake_ca, common_name="issued by a leaf")
    h = signed(leaf) | {
        SIGNATURE_CERTIFICATE: base64.b64encode(leaf.chain_pem + fx.signer().cert_pem).decode()
    }
    assert reason_of(h) is R.CERTIFICATE_UNTRUSTED


def test_expired_intermediate_makes_the_chain_untrusted() -> None:
    old_ca = make_intermediate(
        issuer=fx.root(),
        common_name="Old CA",
        not_before=NOW - timedelta(days=30),
        not_after=NOW - timedelta(days=1),
    )
    leaf = make_leaf(issuer=old_ca, common_name="under old ca", not_before=NOW - timedelta(days=2))
    h = signed(leaf)
    assert reason_of(h, v=verifier(intermediates=[old_ca.certificate])) is R.CERTIFICATE_UNTRUSTED


def test_key_usage_without_digital_signature() -> None:
    usage = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
    leaf = make_leaf(issuer=fx.intermediate(), common_name="encipher only", key_usage=usage)
    assert reason_of(signed(leaf)) is R.CERTIFICATE_KEY_USAGE


def test_ec_certificate_is_unsupported() -> None:
    ec_leaf = make_leaf(
        issuer=fx.intermediate(), common_name="ec", key=pki.generate_key(pki.KeyType.EC_P256)
    )
    h = signed() | {SIGNATURE_CERTIFICATE: base64.b64encode(ec_leaf.cert_pem).decode()}
    assert reason_of(h) is R.CERTIFICATE_KEY_UNSUPPORTED


def test_pinning() -> None:
    pinned = verifier(pinned_fingerprints=[fx.signer().fingerprint_sha256.upper()])
    pinned.verify(method="POST", url=URL, body=BODY, headers=signed())
    other = make_leaf(issuer=fx.intermediate(), common_name="not pinned")
    assert reason_of(signed(other), v=pinned) is R.CERTIFICATE_NOT_PINNED


def test_signature_from_another_key_with_our_certificate() -> None:
    other = make_leaf(issuer=fx.intermediate(), common_name="other")
    h = signed(other) | {SIGNATURE_CERTIFICATE: signed()[SIGNATURE_CERTIFICATE]}
    assert reason_of(h) is R.SIGNATURE_INVALID


@pytest.mark.parametrize(
    "value", ["!!!!", "QUJD", "A" * 3000, base64.b64encode(b"x" * 255).decode()]
)
def test_signature_malformed(value: str) -> None:
    assert reason_of(signed() | {SIGNATURE: value}) is R.SIGNATURE_MALFORMED


def test_sha1_and_pss_signatures_are_rejected() -> None:
    h = signed()
    text = signing_string(
        method="POST", url=URL, signature_date=h[SIGNATURE_DATE], content_hash=h[CONTENT_HASH]
    )
    key = fx.signer().private_key
    sha1 = key.sign(text, padding.PKCS1v15(), hashes.SHA1())  # type: ignore[call-arg,arg-type]
    pss = key.sign(text, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())  # type: ignore[call-arg,arg-type]
    for sig in (sha1, pss):
        assert reason_of(h | {SIGNATURE: base64.b64encode(sig).decode()}) is R.SIGNATURE_INVALID


@pytest.mark.parametrize(
    "weird", [{"X-DIP-Signature-Date": 5}, {"X-DIP-Signature": ["a"]}, {"X-DIP-Signature": None}]
)
def test_weird_header_values_never_escape_as_other_errors(weird: dict[str, object]) -> None:
    with pytest.raises(SignatureVerificationError):
        verifier().verify(method="POST", url=URL, body=BODY, headers=signed() | weird)  # type: ignore[operator,arg-type]
    with pytest.raises(SignatureVerificationError):
        verifier().verify(method="POST", url=URL, body=BODY, headers={None: None, 3: b"x"})  # type: ignore[dict-item]


def test_wrong_argument_types_are_reported_not_raised() -> None:
    with pytest.raises(SignatureVerificationError) as info:
        verifier().verify(method=None, url=URL, body=BODY, headers=signed())  # type: ignore[arg-type]
    assert info.value.reason is R.MALFORMED_REQUEST


# --- caching ------------------------------------------------------------------------------------


def test_certificate_cache_is_bounded_and_results_stay_correct() -> None:
    v = verifier(cache_size=2)
    leaves = [make_leaf(issuer=fx.intermediate(), common_name=f"leaf {i}") for i in range(3)]
    for _ in range(2):
        for leaf in leaves:
            v.verify(method="POST", url=URL, body=BODY, headers=signed(leaf))
    assert len(v._cache) == 2


def test_cached_certificate_expires_when_the_clock_moves_on() -> None:
    clock = [NOW]
    leaf = make_leaf(
        issuer=fx.intermediate(),
        common_name="short",
        not_before=NOW - timedelta(hours=1),
        not_after=NOW + timedelta(hours=1),
    )
    v = verifier(clock=lambda: clock[0])
    v.verify(method="POST", url=URL, body=BODY, headers=signed(leaf))
    clock[0] = NOW + timedelta(hours=2)
    assert reason_of(signed(leaf, now=clock[0]), v=v) is R.CERTIFICATE_EXPIRED


def test_verified_signature_reports_the_signer() -> None:
    result = verifier().verify(method="POST", url=URL, body=BODY, headers=signed())
    assert result.certificate == fx.signer().certificate
    assert (
        result.fingerprint_sha256
        == hashlib.sha256(base64.b64decode(fx.signer().cert_pem.split(b"-----")[2])).hexdigest()
    )
    assert "dcp.test signer" in result.subject
