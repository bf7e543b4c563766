"""``manage.py settle_expired_outbound [--schema S]``: after upgrading to the status-window rule
(docs/outbound.md "Status semantics"), settle the messages the former L4 timer left ``expired``
("no issue reported", their L4_TIMEOUT exceptions resolved) in every tenant or one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_tenants.utils import get_tenant_model, tenant_context

from messaging.outbound.services.status import settle_legacy_expired


class Command(BaseCommand):
    help = "Settle outbound messages left 'expired' by the former L4 timer (no issue reported)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--schema", default="", help="one tenant schema (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = get_tenant_model().objects.exclude(schema_name="public")
        if options["schema"]:
            tenants = tenants.filter(schema_name=options["schema"])
        for tenant in tenants:
            with tenant_context(tenant):
                n = settle_legacy_expired(actor="manage.py settle_expired_outbound")
            self.stdout.write(f"{tenant.schema_name}: {n} settled")
