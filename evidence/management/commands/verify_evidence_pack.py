"""manage.py verify_evidence_pack PACK.zip [--key FILE | --key-url URL]

Without a key option the platform's own evidence key is used."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence import verify


class Command(BaseCommand):
    help = "Verify an evidence pack: file hashes, manifest signature, audit-chain continuity."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pack")
        parser.add_argument("--key", help="PEM public key file")
        parser.add_argument("--key-url", help="URL of the PEM public key")

    def handle(self, *args: Any, **options: Any) -> None:
        key = verify.load_key(key_file=options["key"], key_url=options["key_url"])
        if key is None:
            from evidence.keys import public_key_pem

            key = public_key_pem().encode()
        report = verify.verify_pack(options["pack"], key)
        for problem in report.problems:
            self.stderr.write(f"FAIL {problem}")
        summary = (
            f"{report.checked_files} files, {report.audit_rows} audit rows, "
            f"{report.raw_bodies} raw bodies checked"
        )
        if not report.ok:
            raise CommandError(f"evidence pack FAILED verification ({summary})")
        self.stdout.write(f"OK: {summary}")
