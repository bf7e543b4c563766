"""The OpenDCP Django project: settings, URLs, the Celery app and shared middleware."""

from dcp.celery import app as celery_app

__all__ = ["celery_app"]
