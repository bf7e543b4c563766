from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder
from django_tenants.utils import tenant_context

from certificates import services
from certificates.models import Certificate
from tests.factories import member

# cryptography (abi3) caches the ``datetime`` type on first use; make that first use happen
# before any freeze_time, or it caches freezegun's FakeDatetime and refuses real datetimes.
# Any real datetime does: the type is what is cached, not the value (no clock read at import).
PolicyBuilder().time(datetime(2020, 1, 1, tzinfo=UTC))
x509.CertificateBuilder().not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))

DIP_ID = "1409012345"
OTHER_DIP_ID = "2309012345"


@pytest.fixture
def in_alpha(tenant_a: Any) -> Iterator[Any]:
    with tenant_context(tenant_a):
        yield tenant_a


@pytest.fixture
def admin(tenant_a: Any) -> Any:
    return member(tenant_a, "client_admin")


def issue(
    *,
    dip_ids: tuple[str, ...] = (DIP_ID,),
    usage: str = "signing",
    environment: str = "UIT",
    actor: Any = None,
    **kwargs: Any,
) -> Certificate:
    """Request and issue a certificate through the local CA, as the task would."""
    cert = services.request_certificate(
        environment=environment,
        usage=usage,
        dip_ids=dip_ids,
        common_name=kwargs.pop("common_name", "signing.alpha.example"),
        actor=actor,
        enqueue=False,
        **kwargs,
    )
    return services.issue_pending(certificate_id=cert.pk)
