from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from participants.models import DipId
from participants.services.dip_ids import add_mpid_role, create_dip_id
from participants.services.transfer import schedule_transfer
from participants.tasks import execute_transfers_dispatch

pytestmark = pytest.mark.django_db


def test_due_transfers_are_carried_out_by_the_beat_dispatch(tenant_a, tenant_b, dcp_admin):
    with tenant_context(tenant_b):
        role = add_mpid_role(mpid="BETA", role_code="SUP", actor=dcp_admin)
        dip = create_dip_id(mpid_role=role, environment="UIT", actor=dcp_admin)
    due = schedule_transfer(
        source=tenant_b,
        target=tenant_a,
        dip_ids=[dip.value],
        cutover_at=timezone.now() + timedelta(days=1),
        actor=dcp_admin,
    )
    assert execute_transfers_dispatch() == 0  # nothing due yet
    type(due).objects.filter(pk=due.pk).update(cutover_at=timezone.now() - timedelta(minutes=1))
    assert execute_transfers_dispatch() == 1
    due.refresh_from_db()
    assert due.status == "completed"
    assert execute_transfers_dispatch() == 0  # idempotent
    with tenant_context(tenant_a):
        assert DipId.objects.get(value=dip.value, environment="UIT").status == "active"
