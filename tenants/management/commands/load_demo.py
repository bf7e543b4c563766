from __future__ import annotations

from typing import Any

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management.base import BaseCommand, CommandParser

from tenants.demo import DEMO_PASSWORD, DEMO_USERS, demo_totp_secret, load_demo
from tenants.models import Tenant, build_url


class Command(BaseCommand):
    help = "Load demo data (idempotent) and optionally print the URLs and logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--print-logins",
            action="store_true",
            help="only print URLs and logins (data must exist)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["print_logins"]:
            load_demo()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
            return
        import time

        from django.conf import settings

        w = self.stdout.write
        w("")
        w(self.style.SUCCESS("OpenDCP is running."))
        w(f"  DCP staff console : {build_url(settings.BASE_DOMAIN, '/')}")
        for tenant in Tenant.objects.filter(kind=Tenant.Kind.CLIENT).order_by("name"):
            w(f"  {tenant.name:<18}: {tenant.url('/')}")
        w(f"  API docs          : {build_url(settings.BASE_DOMAIN, '/api/docs/')}")
        w("")
        w(f"Logins (password for all: {DEMO_PASSWORD}):")
        counter = int(time.time()) // 30
        for spec in DEMO_USERS:
            where = spec.tenant_slug or "DCP staff"
            role = spec.role or spec.staff_role
            line = f"  {spec.email:<30} {where:<11} {role:<16}"
            if spec.needs_mfa:
                secret = demo_totp_secret(spec.email)
                code = format_hotp_value(hotp_value(secret, counter))
                line += f" MFA secret {secret} (code now: {code}; `make totp EMAIL=...`)"
            w(line)
        w("")
        w("Stop everything with `make stop`. Logs are in .local/log/.")
