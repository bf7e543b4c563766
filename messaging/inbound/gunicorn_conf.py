"""gunicorn settings for the web tier that serves the DIP webhook (docs/inbound.md).

``gunicorn -c python:messaging.inbound.gunicorn_conf dcp.wsgi:application``. The webhook is
short and I/O-bound (one PostgreSQL transaction, one Redis push): gthread workers keep the DIP's
connections alive and overlap waits; two processes per core use both cores; the app is
preloaded so workers share imported code and the spec catalogue. Override with environment:
WEB_CONCURRENCY (processes), GUNICORN_THREADS, PORT.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 15  # the DIP reuses connections between callbacks
backlog = 2048
timeout = 30  # a callback never needs this long; a stuck worker is recycled
graceful_timeout = 20
max_requests = 20000
max_requests_jitter = 2000
preload_app = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
