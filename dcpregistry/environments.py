"""DIP environments we onboard clients into. Environments are data (an ``environment`` field on
every per-environment row), not deployments. DT-013 knows more tags (DEV, SIT, SITB); a DCP's
clients are onboarded in UIT and promoted to PRD."""

from __future__ import annotations

from django.db import models

from dcp.errors import invalid
from dip.identifiers import check_environment


class Environment(models.TextChoices):
    UIT = "UIT", "UIT (user integration testing)"
    PRD = "PRD", "PRD (production)"


def validate_environment(value: str, *, field: str = "environment") -> str:
    finding = check_environment(value)
    if finding is not None:
        raise invalid(finding.message, code="invalid_environment", field=field)
    if value not in Environment.values:
        raise invalid(
            f"Onboarding supports {', '.join(Environment.values)} only, got {value!r}.",
            code="unsupported_environment",
            field=field,
        )
    return value
