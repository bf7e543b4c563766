"""A ``dip.client.DipClient`` for one of our clients' DIP IDs (tenant schema).

Base URL per environment from ``DIP_API_URLS``; API key: the DIP ID's primary key
(``participants.services.api_keys.key_for_sending``) or, when it has none, the DCP's own key
(``DIP_DCP_API_KEY``: a DCP may act for the participants that nominated it); requests are signed
with the DIP ID's current signing certificate (``certificates.selectors.signing_identity_for``).
"""

from __future__ import annotations

from django.conf import settings

from certificates.selectors import signing_identity_for
from dip.backoff import NO_RETRY
from dip.client import DipClient
from dip.signing import SigningIdentity
from participants.models import DipId


class NotConfigured(Exception):
    pass


def api_key_for(dip_id: str, environment: str) -> str:
    from participants.services.api_keys import key_for_sending

    row = DipId.objects.filter(value=dip_id, environment=environment).first()
    key = key_for_sending(dip_id=row) if row is not None else None
    key = key or settings.DIP_DCP_API_KEY
    if not key:
        raise NotConfigured(f"no DIP API key for {dip_id} ({environment})")
    return key


def identity_for(dip_id: str, environment: str) -> SigningIdentity:
    from certificates.selectors import NoCurrentCertificate

    try:
        current = signing_identity_for(dip_id=dip_id, environment=environment)
    except NoCurrentCertificate as exc:
        raise NotConfigured(str(exc)) from exc
    if current.identity is None:
        raise NotConfigured(f"the certificate of {dip_id} has no RSA signing key")
    return current.identity


def client_for(
    dip_id: str, environment: str, *, identity: SigningIdentity | None = None
) -> DipClient:
    base = settings.DIP_API_URLS.get(environment)
    if not base:
        raise NotConfigured(f"no DIP URL configured for {environment}")
    return DipClient(
        base_url=base,
        api_key=api_key_for(dip_id, environment),
        identity=identity or identity_for(dip_id, environment),
        retry=NO_RETRY,
        timeout=15.0,
    )
