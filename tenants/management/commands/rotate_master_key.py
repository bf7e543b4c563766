from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import get_tenant_model, schema_context

from dcp import vault

MFA_KEYS = ("secret", "seed")


class Command(BaseCommand):
    help = (
        "Re-wrap every sealed secret's data key with the active master key "
        "(DCP_MASTER_KEY_ID), in the public schema and every tenant schema. Idempotent; run "
        "after adding a new master key and making it active, before retiring the old one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        target = vault.active_key_id()
        total = self._rewrap_mfa()
        schemas = [
            "public",
            *list(
                get_tenant_model()
                .objects.exclude(schema_name="public")
                .values_list("schema_name", flat=True)
            ),
        ]
        for schema in schemas:
            with schema_context(schema):
                total += self._rewrap_registered(public=schema == "public")
        self.stdout.write(f"re-wrapped {total} secrets with master key {target!r}")

    def _rewrap_registered(self, *, public: bool) -> int:
        from django.conf import settings

        # Only models whose tables exist in this kind of schema (django-tenants app lists).
        installed = set(settings.SHARED_APPS if public else settings.TENANT_APPS)
        count = 0
        for label, field in vault.SEALED_FIELDS:
            model = apps.get_model(label)
            if model._meta.app_config.name not in installed:
                continue
            with transaction.atomic():
                rows = model.objects.select_for_update().exclude(**{field: ""})
                for obj in rows.exclude(**{f"{field}__isnull": True}):
                    token = getattr(obj, field)
                    new = vault.rewrap(token)
                    if new != token:
                        model.objects.filter(pk=obj.pk).update(**{field: new})
                        count += 1
        return count

    def _rewrap_mfa(self) -> int:
        count = 0
        with schema_context("public"), transaction.atomic():
            for auth in Authenticator.objects.select_for_update():
                changed = False
                for key in MFA_KEYS:
                    token = auth.data.get(key)
                    if isinstance(token, str) and token.startswith(vault.VERSION + "."):
                        new = vault.rewrap(token)
                        if new != token:
                            auth.data[key] = new
                            changed = True
                if changed:
                    auth.save(update_fields=["data"])
                    count += 1
        return count
