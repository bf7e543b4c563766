"""Development settings: what `make run` uses."""

from dcp.settings.base import *  # noqa: F403
from dcp.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The demo's client endpoints listen on this machine (docs/security.md, "Outbound URL policy").
OUTBOUND_URL_ALLOW = env.list("DCP_OUTBOUND_URL_ALLOW", default=["127.0.0.0/8", "::1", "localhost"])
