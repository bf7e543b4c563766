"""A ``dip.client.DipClient`` for one of our clients' DIP IDs (tenant schema), from the one
client factory the platform has: ``messaging.outbound.services.clients.sender_for`` (pooled per
environment, API key and signing certificate; base URL from ``DIP_BASE_URLS``; mTLS for https).

Inbound differs in two ways only, both handled here: a DIP ID without an API key of its own
falls back to the DCP's key (``DIP_DCP_API_KEY``: a DCP may act for the participants that
nominated it), and ``sync_channels_to_dip --sandbox-admin-token`` signs with a certificate the
sandbox issued (``identity=``). Those two get a one-off client, closed after use; the pooled
one is never closed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from dip.backoff import NO_RETRY
from dip.client import DipClient
from dip.signing import SigningIdentity
from messaging.outbound.services import clients


class NotConfigured(Exception):
    pass


def identity_for(dip_id: str, environment: str) -> SigningIdentity:
    from certificates.selectors import NoCurrentCertificate, signing_identity_for

    try:
        current = signing_identity_for(dip_id=dip_id, environment=environment)
    except NoCurrentCertificate as exc:
        raise NotConfigured(str(exc)) from exc
    if current.identity is None:
        raise NotConfigured(f"the certificate of {dip_id} has no RSA signing key")
    return current.identity


def _one_off(dip_id: str, environment: str, identity: SigningIdentity | None) -> DipClient:
    base = settings.DIP_BASE_URLS.get(environment)
    if not base:
        raise NotConfigured(f"no DIP URL configured for {environment}")
    from participants.models import DipId
    from participants.services.api_keys import key_for_sending

    row = DipId.objects.filter(value=dip_id, environment=environment).first()
    key = (key_for_sending(dip_id=row) if row is not None else None) or settings.DIP_DCP_API_KEY
    if not key:
        raise NotConfigured(f"no DIP API key for {dip_id} ({environment})")
    return DipClient(
        base_url=base,
        api_key=key,
        identity=identity or identity_for(dip_id, environment),
        retry=NO_RETRY,
        timeout=float(settings.DIP_TIMEOUT),
    )


@contextmanager
def client_for(
    dip_id: str, environment: str, *, identity: SigningIdentity | None = None
) -> Iterator[DipClient]:
    pooled: DipClient | None = None
    if identity is None:
        try:
            pooled = clients.sender_for(environment=environment, dip_id=dip_id).client
        except clients.NotConfigured as exc:
            if "API key" not in str(exc):  # no signing certificate: nothing to fall back to
                raise NotConfigured(str(exc)) from exc
    if pooled is not None:
        yield pooled  # shared by the process: not closed
        return
    client = _one_off(dip_id, environment, identity)
    try:
        yield client
    finally:
        client.close()
