"""Small typed helpers over django-tenants' connection attributes."""

from __future__ import annotations

from django.db import connection


def current_schema() -> str:
    """The schema the default connection is set to (``public`` outside any tenant)."""
    return str(getattr(connection, "schema_name", "public"))
