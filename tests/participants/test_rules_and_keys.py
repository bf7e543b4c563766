"""may_send decisions, cross-tenant DCP ID uniqueness and sealed API keys."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from dcp import vault
from participants.models import ApiKey
from participants.services import api_keys, dip_ids, nominations, rules
from tenants.roles import ClientRole
from tests.factories import member

pytestmark = pytest.mark.django_db


def test_may_send_reasons(tenant_a, admin_a, dcp_ready, sup_dip):
    dcp = dcp_ready["UIT"][0]
    with tenant_context(tenant_a):

        def ask(**kw):
            return rules.may_send(
                **{
                    "dcp_id": dcp,
                    "interface_id": "IF-004",
                    "dip_id": sup_dip.value,
                    "environment": "UIT",
                    **kw,
                }
            ).code

        assert ask(environment="PROD") == "invalid_environment"
        assert ask(dip_id="0000000000") == "unknown_dip_id"
        assert ask() == "not_nominated"
        nomination = nominations.nominate_dcp(
            dip_id=sup_dip, dcp_id=dcp, whitelist_domains=False, actor=admin_a
        )
        assert ask(interface_id="IF-999") == "unknown_interface"
        assert ask(interface_id="IF-001") == "role_not_sender"
        assert ask() == "no_api_key"
        api_keys.generate_keys(dip_id=sup_dip, actor=admin_a)
        assert rules.may_send(
            dcp_id=dcp, interface_id="IF-004", dip_id=sup_dip.value, environment="UIT"
        )
        nominations.revoke_nomination(nomination=nomination, actor=admin_a)
        assert ask() == "not_nominated"


def test_dcp_id_is_assigned_once_across_tenants(tenant_a, tenant_b, admin_a, dcp_ready, sup_dip):
    dcp = dcp_ready["UIT"][0]
    with tenant_context(tenant_a):
        nominations.nominate_dcp(dip_id=sup_dip, dcp_id=dcp, whitelist_domains=True, actor=admin_a)
    admin_b = member(tenant_b, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant_b):
        combo = dip_ids.add_mpid_role(mpid="BETA", role_code="SUP", actor=admin_b)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin_b)
        with pytest.raises(ValidationError) as exc:
            nominations.nominate_dcp(dip_id=dip, dcp_id=dcp, whitelist_domains=False, actor=admin_b)
        assert exc.value.code == "dcp_id_assigned"
        with pytest.raises(ValidationError) as exc:
            nominations.nominate_dcp(
                dip_id=dip, dcp_id=dcp_ready["PRD"][0], whitelist_domains=False, actor=admin_b
            )
        assert exc.value.code == "environment_mismatch"
        assert not dip.nominations.exists()


def test_keys_are_sealed_and_rotation_keeps_a_live_primary(tenant_a, admin_a, sup_dip):
    with tenant_context(tenant_a):
        issued = api_keys.generate_keys(
            dip_id=sup_dip, actor=admin_a, primary="p" * 20, secondary="s" * 20
        )
        key = ApiKey.objects.get(pk=issued[0].key.pk)
        assert (
            "p" * 20 not in key.sealed
            and vault.unseal(key.sealed, context=f"participants.ApiKey:{key.pk}") == b"p" * 20
        )
        with pytest.raises(ValidationError) as exc:
            api_keys.retire_key(key=key, actor=admin_a)
        assert exc.value.code == "primary_in_use"
        new = api_keys.regenerate_secondary(dip_id=sup_dip, actor=admin_a)
        api_keys.swap_keys(dip_id=sup_dip, actor=admin_a)
        assert api_keys.key_for_sending(dip_id=sup_dip) == new.secret
        assert ApiKey.objects.get(pk=key.pk).state == ApiKey.State.RETIRING
        with pytest.raises(ValidationError):
            api_keys.swap_keys(dip_id=sup_dip, actor=admin_a)
