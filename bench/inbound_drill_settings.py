"""Settings for ``scripts/drill_inbound.py``: the bench settings with short clocks so faults
recover within the drill — beat runs only the inbound sweeper, every 3 s; a message still
``received`` after 5 s is re-enqueued; client pushes retry every 1-2 s and a failing endpoint
is paused after 12 s (the drill resumes it)."""

from bench.inbound_settings import *  # noqa: F403

CELERY_BEAT_SCHEDULE = {
    "inbound-sweep": {"task": "messaging_inbound.sweep_dispatch", "schedule": 3.0},
}
INBOUND_STALE_AFTER = 5
PUSH_RETRY_SCHEDULE = [1, 2]
PUSH_PAUSE_AFTER_HOURS = 12 / 3600
PUSH_TIMEOUT = 3.0
INBOUND_SEND_L4_STATUS = False  # the sandbox's simulated sender has no status webhook here
