"""Test settings: fast hashing, in-memory email, eager nothing (Celery runs for real)."""

from dcp.settings.base import *  # noqa: F403
from dcp.settings.base import CACHES, LOGGING

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip,50/5m/key"}
CACHES["default"]["KEY_PREFIX"] = "test"
LOGGING["root"]["level"] = "WARNING"
