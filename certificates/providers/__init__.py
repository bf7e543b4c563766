"""Certificate providers behind one interface (``base.CertificateProvider``)."""

from __future__ import annotations

from .base import (
    CertificateProvider,
    DomainStatus,
    Issued,
    IssueRequest,
    Pending,
    ProviderError,
)


def get_provider(kind: str, environment: str) -> CertificateProvider:
    from certificates.models import Provider

    if kind == Provider.LOCAL_CA:
        from .local_ca import LocalCAProvider

        return LocalCAProvider(environment)
    if kind == Provider.GLOBALSIGN:
        from .globalsign import AtlasProvider

        return AtlasProvider.from_settings(environment)
    raise ProviderError(f"no provider can issue or revoke {kind!r} certificates", retryable=False)


__all__ = [
    "CertificateProvider",
    "DomainStatus",
    "IssueRequest",
    "Issued",
    "Pending",
    "ProviderError",
    "get_provider",
]
