from __future__ import annotations

import time
from typing import Any

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management.base import BaseCommand, CommandParser

from tenants.demo import demo_totp_secret


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo user (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        secret = demo_totp_secret(options["email"])
        self.stdout.write(format_hotp_value(hotp_value(secret, int(time.time()) // 30)))
