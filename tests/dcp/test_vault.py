from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcp import vault


@pytest.fixture
def two_keys(settings):
    k1, k2 = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    # Keep the configured keys: committed rows elsewhere in the database use them.
    settings.DCP_MASTER_KEYS = {**settings.DCP_MASTER_KEYS, "k1": k1, "k2": k2}
    settings.DCP_MASTER_KEY_ID = "k1"
    return settings


@given(st.binary(max_size=4096), st.text(min_size=1, max_size=40))
@settings(max_examples=50, deadline=None)
def test_seal_unseal_round_trip(plaintext, context):
    token = vault.seal(plaintext, context=context)
    assert vault.unseal(token, context=context) == plaintext
    if len(plaintext) >= 8:
        assert plaintext.hex() not in token


def test_each_secret_has_its_own_data_key():
    a, b = vault.seal(b"same", context="c"), vault.seal(b"same", context="c")
    assert a != b and a.split(".")[2] != b.split(".")[2]


def test_context_is_bound():
    token = vault.seal(b"api-key", context="dip-api-key:1")
    with pytest.raises(vault.VaultError, match="context"):
        vault.unseal(token, context="dip-api-key:2")


@pytest.mark.parametrize("part", [2, 3])
def test_tampering_is_detected(part):
    token = vault.seal(b"secret", context="c").split(".")
    raw = bytearray(vault._b64d(token[part]))
    raw[-1] ^= 1
    token[part] = vault._b64e(bytes(raw))
    with pytest.raises(vault.VaultError):
        vault.unseal(".".join(token), context="c")


def test_malformed_and_unknown_key():
    with pytest.raises(vault.VaultError, match="malformed"):
        vault.unseal("garbage", context="c")
    with pytest.raises(vault.VaultError, match="unknown master key"):
        vault.unseal("v1.nokey.AAAA.AAAA", context="c")


def test_rotation_rewraps_without_reencrypting(two_keys):
    token = vault.seal(b"private key pem", context="key:9")
    assert vault.key_id_of(token) == "k1"
    two_keys.DCP_MASTER_KEY_ID = "k2"
    rotated = vault.rewrap(token)
    assert vault.key_id_of(rotated) == "k2"
    assert rotated.split(".")[3] == token.split(".")[3]  # ciphertext untouched
    two_keys.DCP_MASTER_KEYS = {k: v for k, v in two_keys.DCP_MASTER_KEYS.items() if k != "k1"}
    assert vault.unseal(rotated, context="key:9") == b"private key pem"
    with pytest.raises(vault.VaultError):
        vault.unseal(token, context="key:9")


def test_bad_master_key_configuration(settings):
    settings.DCP_MASTER_KEYS = {"short": base64.b64encode(b"x" * 16).decode()}
    settings.DCP_MASTER_KEY_ID = "short"
    with pytest.raises(vault.VaultError, match="32 bytes"):
        vault.seal(b"x", context="c")
    settings.DCP_MASTER_KEY_ID = "missing"
    with pytest.raises(vault.VaultError, match="not in DCP_MASTER_KEYS"):
        vault.seal(b"x", context="c")


def test_fingerprint_reveals_nothing():
    fp = vault.fingerprint("super-secret-api-key")
    assert fp.startswith("sha256:") and "secret" not in fp and len(fp) == 23


@pytest.mark.django_db
def test_rotate_master_key_command_rewraps_mfa_secrets(two_keys):
    from io import StringIO

    from allauth.mfa.models import Authenticator
    from django.core.management import call_command

    from tests.factories import staff

    user = staff()
    auth = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    assert vault.key_id_of(auth.data["secret"]) == "k1"
    two_keys.DCP_MASTER_KEY_ID = "k2"
    out = StringIO()
    call_command("rotate_master_key", stdout=out)
    auth.refresh_from_db()
    assert vault.key_id_of(auth.data["secret"]) == "k2"
    assert vault.unseal(auth.data["secret"], context="allauth-mfa").decode() == user.totp_secret
    assert "re-wrapped" in out.getvalue()
