"""Settings for `make bench` section `inbound`: production-like (DEBUG off, quiet logs), a
dedicated database (DATABASE_URL set by the section) and Redis database, and the bench-only
floor view served exactly like the webhook (first middleware, any host)."""

from dcp.settings.base import *  # noqa: F403
from dcp.settings.base import LOGGING, MIDDLEWARE

DEBUG = False
ALLOWED_HOSTS = ["*"]
MIDDLEWARE = [MIDDLEWARE[0], "bench.inbound_floor.FloorMiddleware", *MIDDLEWARE[1:]]
LOGGING["root"] = {**LOGGING["root"], "level": "WARNING"}
