"""dip.signing against an independent from-the-spec implementation, both directions."""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dip.signing import (
    SignatureVerificationError,
    SigningIdentity,
    VerificationReason,
    Verifier,
    sign_request,
)

try:
    from tests.dip import independent_dip_signer as independent
    from tests.dip import pki_fixtures as fx
except ImportError:
    import independent_dip_signer as independent  # type: ignore[no-redef]
    import pki_fixtures as fx  # type: ignore[no-redef]

# PROTOCOL.md §1.12: the IF-021 example, minified with separators=(",", ":") -> 1048 bytes.
EXAMPLE_HASH = "Ar9UIMXkcauIrpilZAOuhj3GSA1CyKc+/bovh1Px98k="
EXAMPLE_URL = "https://dip.example/api/dip-channel/IF-021"


# The PKI is minted on first use inside a test (never at import) and cached per process.
@functools.cache
def _identity() -> SigningIdentity:
    return SigningIdentity.from_pem(key_pem=fx.signer().key_pem, cert_pem=fx.signer().cert_pem)


@functools.cache
def _verifier() -> Verifier:
    return Verifier([fx.root().certificate], intermediates=[fx.intermediate().certificate])


methods = st.sampled_from(["GET", "POST", "DELETE", "post"])
urls = st.builds(
    lambda host, path: f"https://{host}/{path}",
    st.sampled_from(["dip.example", "DIP.Example:8443", "127.0.0.1"]),
    st.text(alphabet="abcXYZ019-_/?=&.%", max_size=80),
)


def example_body() -> bytes:
    import json

    item = {
        "payload": {
            "CommonBlock": {
                "S0": {
                    "interfaceID": "IF-021",
                    "schemaVersion": "011",
                    "eventCode": "[ActivePower]",
                },
                "S1": {
                    "environmentTag": "SIT",
                    "subText": None,
                    "senderUniqueReference": "S-IF-021-1409012345-SDS-20250401-0000000000a1",
                    "senderTimestamp": "2025-04-01T06:10:00+00:00",
                    "senderDIPID": "1409012345",
                    "senderRoleID": "SDS",
                    "senderCorrelationID": None,
                    "DIPConnectionProviderID": "3009012345",
                },
                "A0": {"primaryRecipients": [], "secondaryRecipients": [], "always": []},
                "M0": {
                    "MPANCore": "2100000123459",
                    "distributorDIPID": "2509012345",
                    "GSPGroupID": "_K",
                },
            },
            "CustomBlock": {
                "B044": {"issuingDataServiceDIPID": "1409012345"},
                "B067": {
                    "connectionTypeIndicator": "W",
                    "connectionTypeEffectiveFromDate": "2020-01-01T00:00:00+00:00",
                },
                "B900": {
                    "MQID": {"measurementQuantityID": "AI"},
                    "settlementDayConsumptionPeriods": [
                        {
                            "settlementDay": {
                                "settlementDayDate": "2025-03-31T00:00:00+00:00",
                                "periodDuration": 30,
                            },
                            "consumptionPeriods": [
                                {
                                    "sp": "2025-03-31T00:30:00+00:00",
                                    "v": "0.412",
                                    "q": "A",
                                    "e": None,
                                    "arc": None,
                                },
                                {
                                    "sp": "2025-03-31T01:00:00+00:00",
                                    "v": "0.398",
                                    "q": "A",
                                    "e": None,
                                    "arc": None,
                                },
                            ],
                        }
                    ],
                },
            },
        }
    }
    return json.dumps([item], separators=(",", ":")).encode()


def test_spec_example_body_hash_matches_the_published_vector() -> None:
    body = example_body()
    assert len(body) == 1048
    headers = sign_request(method="POST", url=EXAMPLE_URL, body=body, identity=_identity())
    assert headers["X-DIP-Content-Hash"] == EXAMPLE_HASH == independent.body_hash(body)


@settings(max_examples=40, deadline=None)
@given(method=methods, url=urls, body=st.binary(max_size=3000))
def test_ours_verifies_with_independent(method: str, url: str, body: bytes) -> None:
    headers = sign_request(method=method, url=url, body=body, identity=_identity())
    cert = independent.verify(method=method, url=url, body=body, headers=headers)
    assert cert == fx.signer().certificate


@settings(max_examples=15, deadline=None)
@given(method=methods, url=urls, body=st.binary(max_size=3000))
def test_independent_verifies_with_ours(method: str, url: str, body: bytes) -> None:
    date = independent.date_header(datetime.now(UTC))
    headers = independent.sign(
        method=method,
        url=url,
        body=body,
        key_pem=fx.signer().key_pem,
        cert_pem=fx.signer().cert_pem,
        date=date,
    )
    result = _verifier().verify(method=method, url=url, body=body, headers=headers)
    assert result.fingerprint_sha256 == fx.signer().fingerprint_sha256


def test_both_produce_identical_headers() -> None:
    """PKCS#1 v1.5 is deterministic: same key, string and date give byte-identical headers."""
    now = datetime.now(UTC)
    ours = sign_request(
        method="POST", url=EXAMPLE_URL, body=example_body(), identity=_identity(), now=now
    )
    theirs = independent.sign(
        method="POST",
        url=EXAMPLE_URL,
        body=example_body(),
        key_pem=fx.signer().key_pem,
        cert_pem=fx.signer().cert_pem,
        date=independent.date_header(now),
    )
    assert ours == theirs


def test_independent_signature_over_another_url_is_rejected_by_ours() -> None:
    date = independent.date_header(datetime.now(UTC))
    headers = independent.sign(
        method="POST",
        url=EXAMPLE_URL,
        body=b"[]",
        key_pem=fx.signer().key_pem,
        cert_pem=fx.signer().cert_pem,
        date=date,
    )
    with pytest.raises(SignatureVerificationError) as info:
        _verifier().verify(method="POST", url=EXAMPLE_URL + "/x", body=b"[]", headers=headers)
    assert info.value.reason is VerificationReason.SIGNATURE_INVALID


def test_independent_rejects_tampering_of_ours() -> None:
    headers = sign_request(method="POST", url=EXAMPLE_URL, body=b"[]", identity=_identity())
    sig = bytearray(base64.b64decode(headers["X-DIP-Signature"]))
    sig[-1] ^= 1
    with pytest.raises(independent.IndependentVerifyError):
        independent.verify(
            method="POST",
            url=EXAMPLE_URL,
            body=b"[]",
            headers=headers | {"X-DIP-Signature": base64.b64encode(bytes(sig)).decode()},
        )
