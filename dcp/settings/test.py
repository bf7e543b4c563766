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
LOGGING["root"] = {**LOGGING["root"], "level": "WARNING"}


# Every test run keeps to its own corner of Redis: a key prefix unique to the run and the xdist
# worker on the cache, the Celery broker (kombu's global_keyprefix covers queues, bindings and
# the pidbox) and results, so two runs at once on one machine — or a `make run` worker beside
# them on db 0 — can never take each other's tasks. The run id is set once by the process that
# starts pytest and inherited by xdist workers and by the servers/workers tests spawn, which
# therefore share their own test process's prefix.
def _redis_db(url: str, db: int) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") >= 3 else url
    return f"{base}/{db}"


TEST_RUN_ID = os.environ.setdefault("DCP_TEST_RUN_ID", f"{os.getpid()}")
TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
TEST_REDIS_PREFIX = f"test:{TEST_RUN_ID}:{TEST_WORKER}:"
_TEST_REDIS = _redis_db(REDIS_URL, 1)  # REDIS_URL, else the private Redis on DCP_REDIS_PORT
CACHES["default"]["LOCATION"] = _TEST_REDIS
CACHES["default"]["KEY_PREFIX"] = TEST_REDIS_PREFIX
CELERY_BROKER_URL = _TEST_REDIS
CELERY_RESULT_BACKEND = _TEST_REDIS
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": TEST_REDIS_PREFIX}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": TEST_REDIS_PREFIX}
DCP_HEARTBEAT_PREFIX = f"{TEST_REDIS_PREFIX}heartbeat"

# One test database per pytest process (pytest-django adds the xdist worker's suffix), so
# several runs (developers, helpers, CI) never destroy each other's database; pytest-django
# drops it when the session ends, and tests/conftest.py drops those of killed runs.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": env.str("DCP_TEST_DB_NAME", default=f"test_opendcp_{TEST_RUN_ID}"),
}
