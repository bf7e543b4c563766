"""A local CA per environment (sandbox, demo, tests). Its key is stored sealed in the tenant's
schema; the CA certificate is the trust root the sandbox DIP is configured with."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.db import transaction

from dcp import vault
from dip import pki

from ..models import CertificateAuthority, Usage
from .base import DomainStatus, Issued, IssueRequest, Pending, ProviderError


def _load_or_create(environment: str) -> tuple[CertificateAuthority, pki.Issued]:
    with transaction.atomic():
        ca = (
            CertificateAuthority.objects.select_for_update().filter(environment=environment).first()
        )
        if ca is None:
            issued = pki.make_ca(
                common_name=f"OpenDCP Local CA {environment}",
                organization="OpenDCP local CA",
            )
            ca = CertificateAuthority(environment=environment)
            ca.certificate_pem = issued.cert_pem.decode("ascii")
            ca.sealed_key_pem = vault.seal(issued.key_pem, context=ca.vault_context)
            ca.fingerprint_sha256 = issued.fingerprint_sha256
            ca.save()
            return ca, issued
    key = pki.load_private_key(vault.unseal(ca.sealed_key_pem, context=ca.vault_context))
    return ca, pki.Issued(pki.load_certificate(ca.certificate_pem), key)


def local_ca_certificate(environment: str) -> x509.Certificate:
    return _load_or_create(environment)[1].certificate


class LocalCAProvider:
    kind = "local_ca"

    def __init__(self, environment: str) -> None:
        self.environment = environment

    def issue(self, request: IssueRequest) -> Issued | Pending:
        ca_row, ca = _load_or_create(self.environment)
        csr = x509.load_pem_x509_csr(request.csr_pem.encode("ascii"))
        if not csr.is_signature_valid:
            raise ProviderError("the CSR signature does not verify", retryable=False)
        public_key = csr.public_key()
        not_after = min(request.not_after, ca.certificate.not_valid_after_utc)
        ekus = [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(request.not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=request.usage != Usage.MTLS_CLIENT,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
                critical=False,
            )
        )
        if request.dns_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(d) for d in request.dns_names]),
                critical=False,
            )
        certificate = builder.sign(ca.private_key, hashes.SHA256())
        return Issued(
            certificate_pem=pki.certificate_to_pem(certificate).decode("ascii"),
            chain_pem=ca_row.certificate_pem,
            reference=format(certificate.serial_number, "x"),
        )

    def retrieve(self, reference: str) -> Issued | None:
        return None  # the local CA issues synchronously; nothing is ever pending

    def revoke(self, reference: str, *, reason: str) -> None:
        with transaction.atomic():
            ca = CertificateAuthority.objects.select_for_update().get(environment=self.environment)
            if reference not in ca.revoked_serials:
                ca.revoked_serials = [*ca.revoked_serials, reference]
                ca.save(update_fields=["revoked_serials"])

    def trust_roots(self) -> list[x509.Certificate]:
        return [local_ca_certificate(self.environment)]

    def domain_status(self, claim_id: str) -> DomainStatus:
        # The local CA needs no domain validation: every claim counts as verified.
        return DomainStatus(
            claim_id=claim_id, domain=claim_id, verified=True, verified_at=datetime.now(UTC)
        )
