"""Test settings: fast hashing, in-memory email, eager nothing (Celery runs for real)."""

import os

from dcp.settings.base import *  # noqa: F403
from dcp.settings.base import CACHES, LOGGING, REDIS_URL, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip,50/5m/key"}
CACHES["default"]["KEY_PREFIX"] = "test"
LOGGING["root"] = {**LOGGING["root"], "level": "WARNING"}


# Tests use their own Redis database so a running `make run` worker never steals test tasks.
def _redis_db(url: str, db: int) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") >= 3 else url
    return f"{base}/{db}"


_TEST_REDIS = _redis_db(REDIS_URL, 1)  # REDIS_URL, else the private Redis on DCP_REDIS_PORT
CACHES["default"]["LOCATION"] = _TEST_REDIS
CELERY_BROKER_URL = _TEST_REDIS
CELERY_RESULT_BACKEND = _TEST_REDIS

# One test database per pytest process, so several runs (developers, helpers, CI) never
# destroy each other's database. pytest-django drops it when the session ends.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": env.str("DCP_TEST_DB_NAME", default=f"test_opendcp_{os.getpid()}"),
}
