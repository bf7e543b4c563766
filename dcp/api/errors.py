"""One error format for the whole API, DIP-style: ``{"code", "message", "details"}``.

Domain errors (Django ValidationError, permission and not-found errors, DIP library errors)
are mapped here and nowhere else."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tenants.permissions import PermissionDenied as DomainPermissionDenied

logger = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
}


def _validation_details(error: DjangoValidationError) -> Any:
    if hasattr(error, "error_dict"):
        return {k: [m for e in v for m in e.messages] for k, v in error.error_dict.items()}
    return {"non_field_errors": error.messages}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DataError):
        # PostgreSQL refused a value that passed the input checks (a time zone offset beyond
        # ±15:59, a number out of a column's range): bad input, not a server fault.
        logger.warning("database refused a request value: %s", str(exc).splitlines()[0])
        return Response(
            {
                "code": "invalid_value",
                "message": "A value in the request is out of the range this API accepts.",
                "details": None,
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DjangoValidationError):
        code = getattr(exc, "code", None) or "invalid"
        details = _validation_details(exc)
        first = next(iter(details.values()))[0] if details else "Invalid input."
        return Response(
            {"code": code, "message": first, "details": details}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, DomainPermissionDenied | DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        message = "Invalid input."
        if isinstance(data, dict):
            for value in data.values():
                if isinstance(value, list) and value:
                    message = str(value[0])
                    break
        elif isinstance(data, list) and data:
            message = str(data[0])
        body = {"code": "invalid", "message": message, "details": data}
    else:
        detail = data.get("detail", "") if isinstance(data, dict) else data
        code = getattr(detail, "code", None)
        body = {
            "code": code
            if code and code not in ("invalid", "error")
            else _CODES.get(response.status_code, "error"),
            "message": str(detail),
            "details": None,
        }
    response.data = body
    return response


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404`` of both URLconfs: an unknown path under /api/ answers in the API's
    format (JSON), every other path gets the site's 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": "No such API path.", "details": None}, status=404
        )
    return defaults.page_not_found(request, exception or Http404())
