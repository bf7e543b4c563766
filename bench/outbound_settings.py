"""Settings for the outbound drill and `make bench outbound`: production-like (DEBUG off, quiet
logs, any Host), on the dedicated database and Redis database the caller sets in
DATABASE_URL / REDIS_URL (see ``bench.outbound_env``)."""

from dcp.settings.base import *  # noqa: F403
from dcp.settings.base import LOGGING

DEBUG = False
ALLOWED_HOSTS = ["*"]
LOGGING["root"] = {**LOGGING["root"], "level": "WARNING"}
