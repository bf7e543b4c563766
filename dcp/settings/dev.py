"""Development settings: what `make run` uses."""

from dcp.settings.base import *  # noqa: F403
from dcp.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
