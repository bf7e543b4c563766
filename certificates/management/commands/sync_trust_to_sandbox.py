"""Dev/demo only: make the DIP sandbox trust the tenants' local CAs (their signing certificates)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from certificates.demo import sync_trust_to_sandbox


class Command(BaseCommand):
    help = (
        "Dev/demo only: upload each client tenant's local CA certificate to the DIP sandbox as a "
        "trust root (admin API), so the sandbox accepts what the tenants sign. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sandbox-admin-token", required=True, help="the sandbox's admin token"
        )
        parser.add_argument(
            "--url",
            default="",
            help="sandbox base URL (default: the UIT DIP URL, DCP_DIP_UIT_URL)",
        )
        parser.add_argument("--tenant", help="only this tenant (slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per call otherwise
        url = options["url"] or settings.DIP_API_URLS["UIT"]
        try:
            rows = sync_trust_to_sandbox(
                base_url=url, admin_token=options["sandbox_admin_token"], slug=options["tenant"]
            )
        except httpx.HTTPError as exc:
            raise CommandError(f"DIP sandbox at {url}: {exc}") from exc
        failed = 0
        for r in rows:
            mark = "ok  " if r.ok else "FAIL"
            ca = f"CA {r.fingerprint[:16]}" if r.fingerprint else "no local CA"
            self.stdout.write(
                f"{mark} {r.tenant:<12} {r.environment} {ca:<19} {r.outcome} {r.detail}"
            )
            failed += not r.ok
        trusted = sum(r.outcome in ("trusted", "uploaded") for r in rows)
        self.stdout.write(f"{trusted} local CA(s) trusted by the sandbox at {url}")
        if failed:
            raise CommandError(f"{failed} tenant(s) not trusted")
