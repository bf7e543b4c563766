"""Settings for `make bench` section `console`: production-like (DEBUG off, quiet logs) on a
dedicated database the section creates and drops (DATABASE_URL set by the section)."""

from dcp.settings.base import *  # noqa: F403
from dcp.settings.base import LOGGING

DEBUG = False
LOGGING["root"] = {**LOGGING["root"], "level": "WARNING"}
