"""Tenant-host onboarding pages (included under /setup/)."""

urlpatterns: list = []
