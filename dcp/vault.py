"""Envelope encryption for secrets (DIP API keys, private keys, webhook secrets).

Each secret is encrypted with its own random 256-bit data key (AES-256-GCM); the data key is
wrapped (AES-256-GCM) by a master key named by key id. Master keys come from settings
(``DCP_MASTER_KEYS`` = {key_id: base64(32 bytes)}, ``DCP_MASTER_KEY_ID`` = the active one) or a
KMS behind the same two functions. Rotation: add a new master key, make it active, run
``manage.py rotate_master_key`` which re-wraps data keys (the secrets themselves are not
re-encrypted). Only fingerprints are ever logged or shown.

Token format (text, safe for a TextField): ``v1.<key_id>.<b64 wrap_nonce+wrapped_dek>.<b64
nonce+ciphertext>``. The caller's ``context`` (e.g. ``"dip-api-key:42"``) is bound as
associated data so a token copied to another row does not decrypt there.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

VERSION = "v1"


class VaultError(Exception):
    pass


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _master_keys() -> dict[str, bytes]:
    keys = {}
    for key_id, encoded in settings.DCP_MASTER_KEYS.items():
        raw = base64.b64decode(encoded)
        if len(raw) != 32:
            raise VaultError(f"master key {key_id!r} must be 32 bytes (base64), got {len(raw)}")
        keys[key_id] = raw
    return keys


def active_key_id() -> str:
    key_id: str = settings.DCP_MASTER_KEY_ID
    if key_id not in settings.DCP_MASTER_KEYS:
        raise VaultError(f"DCP_MASTER_KEY_ID {key_id!r} is not in DCP_MASTER_KEYS")
    return key_id


def _master(key_id: str) -> AESGCM:
    try:
        return AESGCM(_master_keys()[key_id])
    except KeyError:
        raise VaultError(f"unknown master key id {key_id!r}") from None


@dataclass(frozen=True)
class SealedParts:
    key_id: str
    wrapped: bytes
    payload: bytes


def _split(token: str) -> SealedParts:
    try:
        version, key_id, wrapped, payload = token.split(".")
    except ValueError:
        raise VaultError("malformed sealed secret") from None
    if version != VERSION:
        raise VaultError(f"unsupported sealed secret version {version!r}")
    return SealedParts(key_id, _b64d(wrapped), _b64d(payload))


def _wrap_aad(key_id: str) -> bytes:
    return f"opendcp-dek|{key_id}".encode()


def seal(plaintext: bytes | str, *, context: str) -> str:
    """Encrypt ``plaintext`` under a fresh data key wrapped by the active master key."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    key_id = active_key_id()
    dek = AESGCM.generate_key(bit_length=256)
    nonce, wrap_nonce = os.urandom(12), os.urandom(12)
    ciphertext = AESGCM(dek).encrypt(nonce, data, context.encode())
    wrapped = _master(key_id).encrypt(wrap_nonce, dek, _wrap_aad(key_id))
    return ".".join((VERSION, key_id, _b64e(wrap_nonce + wrapped), _b64e(nonce + ciphertext)))


def _unwrap(parts: SealedParts) -> bytes:
    try:
        return _master(parts.key_id).decrypt(
            parts.wrapped[:12], parts.wrapped[12:], _wrap_aad(parts.key_id)
        )
    except InvalidTag:
        raise VaultError("data key does not unwrap with its master key") from None


def unseal(token: str, *, context: str) -> bytes:
    parts = _split(token)
    dek = _unwrap(parts)
    try:
        return AESGCM(dek).decrypt(parts.payload[:12], parts.payload[12:], context.encode())
    except InvalidTag:
        raise VaultError("secret does not decrypt (wrong context or tampered)") from None


def key_id_of(token: str) -> str:
    return _split(token).key_id


def rewrap(token: str) -> str:
    """Re-wrap the data key with the active master key; the ciphertext is unchanged."""
    parts = _split(token)
    target = active_key_id()
    if parts.key_id == target:
        return token
    dek = _unwrap(parts)
    wrap_nonce = os.urandom(12)
    wrapped = _master(target).encrypt(wrap_nonce, dek, _wrap_aad(target))
    return ".".join((VERSION, target, _b64e(wrap_nonce + wrapped), _b64e(parts.payload)))


def fingerprint(secret: bytes | str) -> str:
    """A short, non-reversible identifier for showing or logging a secret."""
    data = secret.encode() if isinstance(secret, str) else secret
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


# Registry of (app_label.Model, field) pairs holding sealed tokens; later apps register theirs
# so rotate_master_key can find every token in every schema.
SEALED_FIELDS: list[tuple[str, str]] = []


def register_sealed_field(model_label: str, field: str) -> None:
    if (model_label, field) not in SEALED_FIELDS:
        SEALED_FIELDS.append((model_label, field))
