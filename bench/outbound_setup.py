"""Set up the outbound drill/bench tenant in the dedicated database (DATABASE_URL): DCP status
and a DCP ID, a client tenant with an SDS DIP ID nominated to it, its DIP API key, a signing
certificate from the local CA and a client API key. Writes the signing key and certificate
(for the floor) to the folder given and prints one JSON line for ``bench.outbound_env`` (the
client key, the CA PEM the sandbox must trust, ...)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.outbound_settings")

import django

django.setup()

from cryptography.hazmat.primitives import serialization  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from certificates import services as certificates  # noqa: E402
from certificates.providers.local_ca import local_ca_certificate  # noqa: E402
from certificates.selectors import signing_identity_for  # noqa: E402
from dcpregistry import services as registry  # noqa: E402
from dip.pki import certificate_to_pem  # noqa: E402
from messaging.outbound.services import keys  # noqa: E402
from participants.services import api_keys, dip_ids, nominations  # noqa: E402
from tenants.models import Domain, Tenant  # noqa: E402
from tenants.roles import ClientRole  # noqa: E402
from tenants.services import ensure_public_tenant  # noqa: E402
from tests.factories import member, staff  # noqa: E402

SDS = "1409030001"
DIP_API_KEY = "outbound-bench-primary-key-0001"


def main(slug: str, folder: Path) -> None:
    ensure_public_tenant()
    dcp_admin = staff(email=f"dcp-admin@{slug}.example")
    registry.request_dcp_status(environment="UIT", actor=dcp_admin)
    registry.decide_dcp_status(environment="UIT", approve=True, actor=dcp_admin)
    dcp_id = registry.create_dcp_ids(environment="UIT", count=1, actor=dcp_admin)[0].value
    tenant = Tenant(schema_name=f"t_{slug}", name=f"{slug.title()} Outbound", slug=slug)
    tenant.save(verbosity=0)
    Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
    admin = member(tenant, ClientRole.CLIENT_ADMIN, email=f"admin@{slug}.example")
    with tenant_context(tenant):
        combo = dip_ids.add_mpid_role(
            mpid="ALFA", role_code="SDS", actor=dcp_admin, pre_approved=True
        )
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin, value=SDS)
        nominations.nominate_dcp(dip_id=dip, dcp_id=dcp_id, whitelist_domains=False, actor=admin)
        api_keys.generate_keys(dip_id=dip, actor=admin, primary=DIP_API_KEY)
        cert = certificates.request_certificate(
            environment="UIT",
            usage="signing",
            dip_ids=(SDS,),
            common_name=f"signing.{slug}.example",
            actor=admin,
            enqueue=False,
        )
        certificates.issue_pending(certificate_id=cert.pk)
        current = signing_identity_for(dip_id=SDS, environment="UIT")
        (folder / "signing.key").write_bytes(
            current.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (folder / "signing.crt").write_bytes(
            current.certificate.public_bytes(serialization.Encoding.PEM)
        )
        client_key = keys.create_key(
            name="load generator", scopes=["messages:send", "messages:read"], actor=admin
        )
        ca_pem = certificate_to_pem(local_ca_certificate("UIT")).decode()
    print(
        json.dumps(
            {
                "host": tenant.primary_host,
                "schema": tenant.schema_name,
                "dip_id": SDS,
                "dcp_id": dcp_id,
                "dip_api_key": DIP_API_KEY,
                "client_key": client_key.secret,
                "ca_pem": ca_pem,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
