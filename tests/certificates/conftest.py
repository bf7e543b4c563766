from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from certificates import services
from certificates.models import Certificate
from tests.factories import member

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
