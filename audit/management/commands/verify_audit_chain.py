from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from audit.selectors import ChainReport, verify_chain
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Verify the hash-chained audit log of the public schema and every tenant (or one). "
        "Exits with status 1 if any row was edited, deleted, inserted or reordered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="slug of one tenant to verify")
        parser.add_argument("--public", action="store_true", help="verify the public chain only")

    def handle(self, *args: Any, **options: Any) -> None:
        schemas: list[str]
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant with slug {options['tenant']!r}")
            schemas = [tenant.schema_name]
        elif options["public"]:
            schemas = ["public"]
        else:
            schemas = [
                "public",
                *list(
                    Tenant.objects.filter(kind=Tenant.Kind.CLIENT)
                    .order_by("slug")
                    .values_list("schema_name", flat=True)
                ),
            ]
        failed: list[ChainReport] = []
        for schema in schemas:
            with schema_context(schema):
                report = verify_chain(schema)
            if report.ok:
                self.stdout.write(f"OK    {schema}: {report.count} events")
            else:
                failed.append(report)
                self.stdout.write(f"FAIL  {schema}: {report.count} events")
                for problem in report.problems:
                    self.stdout.write(f"      - {problem}")
        if failed:
            raise CommandError(
                "audit chain verification failed for: " + ", ".join(r.schema for r in failed),
                returncode=1,
            )
