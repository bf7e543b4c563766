"""Request id propagation: every request gets an id (or keeps the caller's X-Request-ID),
exposed to logs, audit entries and the response."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from dcp.logging import request_var as log_request_var

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def current_request_id() -> str:
    return request_id_var.get()


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        # Not reset on the way out: Django logs the response ("django.request") after the
        # middleware chain returns, and that line must carry the id too. The next request on
        # this thread sets its own.
        request_id_var.set(rid)
        log_request_var.set(request)
        response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response


class RequestIdLogFilter(logging.Filter):
    """Only the request id; ``dcp.logging.ContextFilter`` adds tenant, user and message ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None
