"""Register the platform's channel webhook URLs with the DIP (or the sandbox)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.inbound.sync import sync_all


class Command(BaseCommand):
    help = "Register every enabled channel's webhook URL with the DIP (pubconfig, §4.1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="only this tenant (slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = sync_all(slug=options.get("tenant"))
        failed = 0
        for r in rows:
            mark = "ok  " if r.ok else "FAIL"
            self.stdout.write(
                f"{mark} {r.tenant} {r.dip_id} {r.interface_id:<7} {r.url} {r.detail}"
            )
            failed += not r.ok
        self.stdout.write(f"{len(rows) - failed}/{len(rows)} channels registered")
        if failed:
            raise CommandError(f"{failed} channel(s) not registered")
