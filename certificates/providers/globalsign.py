"""GlobalSign Atlas certificate management API (HVCA, ``/v2``), as the DIP onboarding uses.

Dual authentication: the TLS connection presents the account's mTLS certificate, and each
request carries ``Authorization: Bearer <token>`` from ``POST /login`` (API key + secret; the
token lives 10 minutes, re-login on expiry or 401). Calls used here:

* ``POST /login`` ``{"api_key","api_secret"}`` → ``{"access_token"}``
* ``GET /validationpolicy`` → the account's policy (subject fields, validity limits)
* ``POST /certificates`` ``{"validity":{"not_before","not_after"},"subject_dn":{...},
  "san":{"dns_names":[...]},"csr": PEM}`` → 201, ``Location: /v2/certificates/<serial>``
* ``GET /certificates/<serial>`` → ``{"certificate": PEM, "status": "ISSUED"|"REVOKED",
  "updated_at"}``; 404 while issuance is still in progress
* ``PATCH /certificates/<serial>`` ``{"revocation_reason","revocation_time"}`` → 204 (revoke)
* ``GET /trustchain`` → ``[PEM, ...]`` issuing CA first, root last
* ``GET /claims/domains/<id>`` → ``{"id","status":"PENDING"|"VERIFIED","domain","token",
  "expires_at","last_verified_at",...}`` (domain verification)

Errors come back as ``application/problem+json`` ``{"description": ...}``.
"""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography import x509
from django.conf import settings

from dip import pki

from .base import DomainStatus, Issued, IssueRequest, Pending, ProviderError

TOKEN_LIFETIME = 9 * 60  # seconds; the API documents 10 minutes
REVOCATION_REASONS = {
    "key_compromise": "keyCompromise",
    "superseded": "superseded",
    "cessation_of_operation": "cessationOfOperation",
    "affiliation_changed": "affiliationChanged",
    "unspecified": "unspecified",
}


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _dt(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


class AtlasProvider:
    kind = "globalsign"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        api_secret: str,
        client_cert: str = "",
        client_key: str = "",
        ca_bundle: str = "",
        timeout: float = 30.0,
    ) -> None:
        if not base_url or not api_key or not api_secret:
            raise ProviderError("GlobalSign Atlas is not configured", retryable=False)
        self.base_url = base_url.rstrip("/")
        self._api_key, self._api_secret = api_key, api_secret
        context = ssl.create_default_context(cafile=ca_bundle or None)
        if client_cert:
            context.load_cert_chain(client_cert, client_key or None)
        self._client = httpx.Client(base_url=self.base_url, verify=context, timeout=timeout)
        self._token = ""
        self._token_at = 0.0

    @classmethod
    def from_settings(cls, environment: str) -> AtlasProvider:
        conf = settings.GLOBALSIGN_ATLAS.get(environment) or {}
        return cls(
            base_url=conf.get("url", ""),
            api_key=conf.get("api_key", ""),
            api_secret=conf.get("api_secret", ""),
            client_cert=conf.get("client_cert", ""),
            client_key=conf.get("client_key", ""),
            ca_bundle=conf.get("ca_bundle", ""),
            timeout=settings.CERTIFICATES_PROVIDER_TIMEOUT,
        )

    # --- transport ---------------------------------------------------------------------

    def _send(self, method: str, path: str, *, auth: bool = True, **kw: Any) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._access_token()}"
        try:
            response = self._client.request(method, path, headers=headers, **kw)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"GlobalSign timed out: {exc}", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"GlobalSign unreachable: {exc}", retryable=True) from exc
        return response

    def _call(self, method: str, path: str, *, ok: tuple[int, ...], **kw: Any) -> httpx.Response:
        response = self._send(method, path, **kw)
        if response.status_code == 401:  # token expired early: log in again once
            self._token = ""
            response = self._send(method, path, **kw)
        if response.status_code not in ok:
            raise self._error(response)
        return response

    @staticmethod
    def _error(response: httpx.Response) -> ProviderError:
        try:
            description = response.json().get("description", "")
        except ValueError:
            description = ""
        status = response.status_code
        return ProviderError(
            f"GlobalSign answered {status}: {description or response.reason_phrase}",
            retryable=status == 429 or status >= 500,
            status=status,
        )

    def _access_token(self) -> str:
        if self._token and time.monotonic() - self._token_at < TOKEN_LIFETIME:
            return self._token
        response = self._send(
            "POST",
            "/login",
            auth=False,
            json={"api_key": self._api_key, "api_secret": self._api_secret},
        )
        if response.status_code != 200:
            raise self._error(response)
        token = response.json().get("access_token", "")
        if not token:
            raise ProviderError("GlobalSign login returned no access token", retryable=False)
        self._token, self._token_at = token, time.monotonic()
        return token

    # --- API ---------------------------------------------------------------------------

    def validation_policy(self) -> dict[str, Any]:
        policy: dict[str, Any] = self._call("GET", "/validationpolicy", ok=(200,)).json()
        return policy

    def issue(self, request: IssueRequest) -> Issued | Pending:
        body: dict[str, Any] = {
            "validity": {
                "not_before": _ts(request.not_before),
                "not_after": _ts(request.not_after),
            },
            "subject_dn": {
                "common_name": request.common_name,
                "organization": request.organization,
                "country": "GB",
            },
            "csr": request.csr_pem,
        }
        if request.dns_names:
            body["san"] = {"dns_names": list(request.dns_names)}
        response = self._call("POST", "/certificates", ok=(201,), json=body)
        location = response.headers.get("Location", "")
        serial = location.rstrip("/").rsplit("/", 1)[-1]
        if not serial:
            raise ProviderError("GlobalSign gave no certificate location", retryable=False)
        return self.retrieve(serial) or Pending(serial)

    def retrieve(self, reference: str) -> Issued | None:
        response = self._call("GET", f"/certificates/{reference}", ok=(200, 404))
        if response.status_code == 404:
            return None
        data = response.json()
        if data.get("status") != "ISSUED" or not data.get("certificate"):
            raise ProviderError(
                f"certificate {reference} is {data.get('status', 'unknown')}", retryable=False
            )
        return Issued(
            certificate_pem=data["certificate"],
            chain_pem="".join(self.trust_chain_pem()),
            reference=reference,
        )

    def revoke(self, reference: str, *, reason: str) -> None:
        self._call(
            "PATCH",
            f"/certificates/{reference}",
            ok=(200, 204),
            json={
                "revocation_reason": REVOCATION_REASONS.get(reason, "unspecified"),
                "revocation_time": _ts(datetime.now(UTC)),
            },
        )

    def trust_chain_pem(self) -> list[str]:
        chain: list[str] = self._call("GET", "/trustchain", ok=(200,)).json()
        return chain

    def trust_roots(self) -> list[x509.Certificate]:
        return [
            c for c in map(pki.load_certificate, self.trust_chain_pem()) if c.subject == c.issuer
        ]

    def domain_status(self, claim_id: str) -> DomainStatus:
        data = self._call("GET", f"/claims/domains/{claim_id}", ok=(200,)).json()
        return DomainStatus(
            claim_id=str(data.get("id", claim_id)),
            domain=str(data.get("domain", "")).rstrip("."),
            verified=data.get("status") == "VERIFIED",
            token=str(data.get("token", "")),
            expires_at=_dt(data.get("expires_at")),
            verified_at=_dt(data.get("last_verified_at")),
            log=[str(e.get("description", "")) for e in data.get("log") or []],
        )

    def close(self) -> None:
        self._client.close()
