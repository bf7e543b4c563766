"""The platform evidence key: RSA-3072, generated on first use, sealed with ``dcp.vault`` and
kept in the public schema. Manifests are signed RSASSA-PKCS1-v1_5 / SHA-256, so
``openssl dgst -sha256 -verify key.pem -signature manifest.sig manifest.json`` also verifies."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from dcp import vault
from evidence.models import EvidenceKey

CONTEXT = "evidence-key:1"


def key_id_of(public_pem: bytes) -> str:
    public = serialization.load_pem_public_key(public_pem)
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _generate() -> EvidenceKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return EvidenceKey(
        slot=1,
        key_id=key_id_of(public_pem),
        public_key_pem=public_pem.decode(),
        private_key_sealed=vault.seal(private_pem, context=CONTEXT),
    )


def evidence_key() -> EvidenceKey:
    """The platform key, created on first use (concurrent first uses agree on one key)."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        key = EvidenceKey.objects.filter(slot=1).first()
        if key is not None:
            return key
        candidate = _generate()
        try:
            with transaction.atomic():
                candidate.save()
            return candidate
        except IntegrityError:
            return EvidenceKey.objects.get(slot=1)


def public_key_pem() -> str:
    return evidence_key().public_key_pem


def sign(data: bytes) -> tuple[bytes, str]:
    """Detached signature over ``data`` and the signing key's id."""
    key = evidence_key()
    private = serialization.load_pem_private_key(
        vault.unseal(key.private_key_sealed, context=CONTEXT), password=None
    )
    assert isinstance(private, rsa.RSAPrivateKey)
    return private.sign(data, padding.PKCS1v15(), hashes.SHA256()), key.key_id
