#!/usr/bin/env bash
# Container entrypoint: one image, one process per container, chosen by the first argument.
#   web      gunicorn serving dcp.wsgi (PORT, WEB_CONCURRENCY, GUNICORN_THREADS)
#   worker   Celery worker on the named queues (DCP_WORKER_QUEUES, CELERY_CONCURRENCY)
#   beat     Celery beat (schedule file DCP_BEAT_SCHEDULE)
#   migrate  migrate_schemas for the public and every tenant schema, then make sure the
#            platform row and its domain (DCP_BASE_DOMAIN) exist
#   demo     load the demo tenants and users (well-known password: never in production)
#            and print the URLs, logins and MFA secrets
#   manage   python manage.py <args>
#   anything else is executed as given (e.g. `bash`, `python manage.py shell`).
# Extra arguments after web/worker/beat/migrate are passed on to the underlying command.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-web}"
if [ $# -gt 0 ]; then shift; fi

case "$cmd" in
  web)
    exec gunicorn dcp.wsgi:application \
      --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-2}" \
      --threads "${GUNICORN_THREADS:-4}" \
      --access-logfile - --error-logfile - \
      "$@"
    ;;
  worker)
    exec celery -A dcp worker \
      -l "${DCP_LOG_LEVEL:-info}" \
      -Q "${DCP_WORKER_QUEUES:-inbound,outbound,delivery,certificates,housekeeping}" \
      --concurrency "${CELERY_CONCURRENCY:-2}" \
      "$@"
    ;;
  beat)
    exec celery -A dcp beat \
      -l "${DCP_LOG_LEVEL:-info}" \
      -s "${DCP_BEAT_SCHEDULE:-/var/lib/opendcp/celerybeat-schedule}" \
      "$@"
    ;;
  migrate)
    python manage.py migrate_schemas --noinput "$@"
    # The platform host (bare DCP_BASE_DOMAIN) is routed through a Domain row of the public
    # tenant; without it every request, /healthz included, is an unknown host (404).
    exec python manage.py bootstrap_platform
    ;;
  demo)
    python manage.py load_demo "$@"
    exec python manage.py load_demo --print-logins
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
