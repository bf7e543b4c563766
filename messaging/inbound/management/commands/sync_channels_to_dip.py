"""Register the platform's channel webhook URLs with the DIP (or the sandbox)."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dip.signing import SigningIdentity
from messaging.inbound.sync import sync_all


class Command(BaseCommand):
    help = "Register every enabled channel's webhook URL with the DIP (pubconfig, §4.1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="only this tenant (slug)")
        parser.add_argument(
            "--sandbox-admin-token",
            help="dev only: sign with a certificate issued by the DIP sandbox (admin API) "
            "instead of each DIP ID's own certificate",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        identity = None
        if options.get("sandbox_admin_token"):
            issued = httpx.post(
                settings.DIP_API_URLS["UIT"].rstrip("/") + "/admin/pki/issue",
                headers={"X-Admin-Token": options["sandbox_admin_token"]},
                json={"common_name": "opendcp-sync"},
                timeout=15,
            )
            issued.raise_for_status()
            data = issued.json()
            identity = SigningIdentity.from_pem(
                key_pem=data["key_pem"].encode(), cert_pem=data["cert_pem"].encode()
            )
        rows = sync_all(slug=options.get("tenant"), identity=identity)
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
