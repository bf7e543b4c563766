"""The one interface every certificate provider implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cryptography import x509


class ProviderError(Exception):
    """A provider refused or failed. ``retryable``: a timeout, connection error, 429 or 5xx
    (the Celery task retries with backoff); otherwise a permanent refusal (bad request)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class IssueRequest:
    csr_pem: str
    common_name: str
    organization: str
    dns_names: tuple[str, ...]
    usage: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class Issued:
    certificate_pem: str
    chain_pem: str
    reference: str


@dataclass(frozen=True)
class Pending:
    """Accepted but not issued yet (GlobalSign issues asynchronously); poll ``retrieve``."""

    reference: str


@dataclass(frozen=True)
class DomainStatus:
    claim_id: str
    domain: str
    verified: bool
    token: str = ""
    expires_at: datetime | None = None
    verified_at: datetime | None = None
    log: list[str] = field(default_factory=list)


class CertificateProvider(Protocol):
    kind: str

    def issue(self, request: IssueRequest) -> Issued | Pending: ...

    def retrieve(self, reference: str) -> Issued | None: ...

    def revoke(self, reference: str, *, reason: str) -> None: ...

    def trust_roots(self) -> list[x509.Certificate]: ...

    def domain_status(self, claim_id: str) -> DomainStatus: ...
