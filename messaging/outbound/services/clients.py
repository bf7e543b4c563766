"""One pooled ``DipClient`` per (environment, API key, signing certificate) and process.

Retries are not done inside the client (``NO_RETRY``): a retryable outcome goes back to the
outbox with a due time, so a worker never sleeps holding a send slot."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from django.conf import settings

from certificates.selectors import NoCurrentCertificate, signing_identity_for
from dcp import vault
from dip.backoff import NO_RETRY
from dip.client import DipClient, build_ssl_context
from messaging.outbound.conf import base_url
from participants.models import DipId
from participants.services.api_keys import key_for_sending


class NotConfigured(Exception):
    """No signing certificate or no API key for the DIP ID: cannot send (yet)."""


@dataclass(frozen=True)
class Sender:
    client: DipClient
    certificate_fingerprint: str
    certificate_id: int
    url: str


_clients: dict[tuple[str, str, str, str], DipClient] = {}
_lock = threading.Lock()


def sender_for(*, environment: str, dip_id: str) -> Sender:
    try:
        current = signing_identity_for(dip_id=dip_id, environment=environment)
    except NoCurrentCertificate as exc:
        raise NotConfigured(str(exc)) from exc
    if current.identity is None:
        raise NotConfigured(f"the signing certificate of {dip_id} has no RSA key")
    dip = DipId.objects.filter(value=dip_id, environment=environment).order_by("status").first()
    api_key = key_for_sending(dip_id=dip) if dip is not None else None
    if not api_key:
        raise NotConfigured(f"DIP ID {dip_id} has no active primary API key in {environment}")
    base = base_url(environment)
    cache_key = (base, vault.fingerprint(api_key), current.fingerprint, environment)
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            client = DipClient(
                base_url=base,
                api_key=api_key,
                identity=current.identity,
                ssl_context=_ssl_context(base, environment, dip_id),
                timeout=float(settings.DIP_TIMEOUT),
                retry=NO_RETRY,
            )
            _clients[cache_key] = client
    return Sender(client, current.fingerprint, current.certificate_id, base)


def _ssl_context(base: str, environment: str, dip_id: str) -> ssl.SSLContext | None:
    if not base.lower().startswith("https://"):
        return None
    try:
        mtls = signing_identity_for(dip_id=dip_id, environment=environment, usage="mtls_client")
    except NoCurrentCertificate as exc:
        raise NotConfigured(f"no mTLS client certificate: {exc}") from exc
    key_pem = mtls.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = mtls.certificate.public_bytes(serialization.Encoding.PEM)
    return build_ssl_context(
        client_cert_pem=cert_pem + mtls.chain_pem.encode(),
        client_key_pem=key_pem,
        ca_file=settings.DIP_CA_FILE or None,
    )


def reset() -> None:
    """Close pooled clients (tests, after a certificate or key change)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
