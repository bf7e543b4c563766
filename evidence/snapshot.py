"""Point-in-time snapshots for a pack: configuration in force, certificate inventory, and the
certification report (extended MDR/SDS, seed 002)."""

from __future__ import annotations

from typing import Any

from certificates.models import Certificate
from evidence.selectors import Scope, scope_messages
from participants.models import (
    CertificationItem,
    Channel,
    DipId,
    InterfaceSelection,
    Nomination,
    SdsMdrPairing,
)


def configuration() -> dict[str, Any]:
    def rows(qs: Any, *names: str) -> list[dict[str, Any]]:
        return list(qs.values(*names))

    return {
        "dip_ids": rows(
            DipId.objects.order_by("id"),
            "value",
            "environment",
            "status",
            "mpid_role__mpid",
            "mpid_role__role_code",
            "decided_at",
        ),
        "nominations": rows(
            Nomination.objects.order_by("id"),
            "dip_id__value",
            "dcp_id",
            "environment",
            "whitelist_domains",
            "status",
            "created",
            "revoked_at",
        ),
        "channels": rows(
            Channel.objects.order_by("id"),
            "dip_id__value",
            "environment",
            "interface_id",
            "obfuscated",
            "enabled",
            "created",
            "updated",
        ),
        "interface_selections": rows(
            InterfaceSelection.objects.order_by("id"), "dip_id__value", "interface_id", "enabled"
        ),
        "certification_items": rows(
            CertificationItem.objects.order_by("id"),
            "dip_id__value",
            "kind",
            "interface_id",
            "status",
            "reused_from",
            "updated",
        ),
        "sds_mdr_pairings": rows(
            SdsMdrPairing.objects.order_by("id"),
            "dip_id__value",
            "partner_name",
            "partner_mpid",
            "partner_dip_id",
            "active",
        ),
    }


def certificates() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in (
            Certificate.objects.order_by("id").values(
                "id",
                "environment",
                "usage",
                "state",
                "provider",
                "subject",
                "issuer",
                "sans",
                "serial",
                "fingerprint_sha256",
                "not_before",
                "not_after",
                "activated_at",
                "retired_at",
                "revoked_at",
                "revocation_reason",
                "certificate_pem",
            )
        )
    ]
    return rows


def certification_report(scope: Scope, tenant_slug: str) -> dict[str, Any]:
    """Per chosen interface: did sample messages get consumed (inbound, validated/delivered)
    and produced (outbound, accepted/settled) in the period? Reusable by another client of
    this platform as "evidence from another client" (seed 002)."""
    from messaging.states import State

    selections = InterfaceSelection.objects.filter(enabled=True).select_related("dip_id")
    items = CertificationItem.objects.select_related("dip_id")
    if scope.dip_ids:
        selections = selections.filter(dip_id__value__in=scope.dip_ids)
        items = items.filter(dip_id__value__in=scope.dip_ids)
    wanted = set(scope.interfaces) or {s.interface_id for s in selections} | {
        i.interface_id for i in items if i.interface_id
    }
    base = scope_messages(scope)
    interfaces = []
    for interface_id in sorted(wanted):
        consumed = base.filter(
            interface_id=interface_id,
            direction="inbound",
            state__in=[State.VALIDATED, State.DELIVERED],
        )
        produced = base.filter(
            interface_id=interface_id,
            direction="outbound",
            state__in=[State.ACCEPTED, State.SETTLED],
        )
        consumed_n, produced_n = consumed.count(), produced.count()
        interfaces.append(
            {
                "interface_id": interface_id,
                "consumed": consumed_n,
                "produced": produced_n,
                "consumed_samples": [
                    str(p) for p in consumed.values_list("public_id", flat=True)[:5]
                ],
                "produced_samples": [
                    str(p) for p in produced.values_list("public_id", flat=True)[:5]
                ],
                "result": "passed" if consumed_n or produced_n else "no evidence",
            }
        )
    return {
        "tenant": tenant_slug,
        "reusable_as": {"kind": CertificationItem.Kind.EVIDENCE_REUSED, "reused_from": tenant_slug},
        "interfaces": interfaces,
        "certification_items": [
            {
                "dip_id": i.dip_id.value,
                "kind": i.kind,
                "interface_id": i.interface_id,
                "status": i.status,
            }
            for i in items
        ],
    }
