"""The sandbox DIP's own certificates: a dev CA, the signing identity, TLS server certificate.

Generated with :mod:`dip.pki` on first start and persisted under the state directory
(``<state>/pki/``), or given as files. Besides the good signing identity the sandbox keeps an
*expired* one (same CA) and a *rogue* one (self-signed CA nobody trusts) for fault drills.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from dip.pki import Issued, Purpose, load_certificate, load_private_key, make_ca, make_leaf
from dip.signing import SigningIdentity

CA_CN = "OpenDCP Sandbox DIP Root CA"


@dataclass(frozen=True)
class SandboxPki:
    ca_cert_pem: bytes
    signing: SigningIdentity
    expired: SigningIdentity
    rogue: SigningIdentity
    server_cert_path: Path
    server_key_path: Path
    ca_path: Path
    ca: Issued | None  # present when the sandbox owns the CA (can issue client certificates)

    @property
    def ca_certificate(self) -> x509.Certificate:
        return load_certificate(self.ca_cert_pem)

    def issue_client(self, common_name: str, *, days: float = 365) -> Issued:
        """A signing + mTLS client certificate from the sandbox CA (dev convenience)."""
        if self.ca is None:
            raise RuntimeError("the sandbox was started with an external CA; cannot issue")
        return make_leaf(
            issuer=self.ca,
            common_name=common_name,
            purposes=(Purpose.SIGNING, Purpose.CLIENT),
            not_after=datetime.now(UTC) + timedelta(days=days),
        )


def _load_or_make(directory: Path, stem: str, make: Callable[[], Issued]) -> Issued:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    if cert_path.exists() and key_path.exists():
        cert = load_certificate(cert_path.read_bytes())
        return Issued(cert, load_private_key(key_path.read_bytes()))
    issued: Issued = make()
    issued.write(directory, stem)
    return issued


def load_pki(state_dir: Path, *, hostnames: tuple[str, ...] = ("localhost",)) -> SandboxPki:
    """Load the sandbox PKI from ``<state_dir>/pki``, creating what is missing."""
    directory = state_dir / "pki"
    directory.mkdir(parents=True, exist_ok=True)
    ca = _load_or_make(directory, "ca", lambda: make_ca(common_name=CA_CN))
    signing = _load_or_make(
        directory,
        "signing",
        lambda: make_leaf(
            issuer=ca, common_name="sandbox.dip.localhost", purposes=(Purpose.SIGNING,)
        ),
    )
    now = datetime.now(UTC)
    expired = _load_or_make(
        directory,
        "signing-expired",
        lambda: make_leaf(
            issuer=ca,
            common_name="expired.sandbox.dip.localhost",
            not_before=now - timedelta(days=30),
            not_after=now - timedelta(days=1),
        ),
    )
    rogue_ca = _load_or_make(directory, "rogue-ca", lambda: make_ca(common_name="Rogue CA"))
    rogue = _load_or_make(
        directory,
        "signing-rogue",
        lambda: make_leaf(issuer=rogue_ca, common_name="rogue.sandbox.dip.localhost"),
    )
    _load_or_make(
        directory,
        "server",
        lambda: make_leaf(
            issuer=ca,
            common_name="sandbox.dip.localhost",
            purposes=(Purpose.SERVER,),
            dns_names=hostnames,
            ip_addresses=("127.0.0.1",),
        ),
    )
    ca_path = directory / "ca.crt"
    return SandboxPki(
        ca_cert_pem=ca_path.read_bytes(),
        signing=_as_identity(signing),
        expired=_as_identity(expired),
        rogue=_as_identity(rogue),
        server_cert_path=directory / "server.crt",
        server_key_path=directory / "server.key",
        ca_path=ca_path,
        ca=ca,
    )


def _as_identity(issued: Issued) -> SigningIdentity:
    return SigningIdentity.from_pem(key_pem=issued.key_pem, cert_pem=issued.cert_pem)
