"""Domain validation errors that keep a machine-readable code, with or without a field.

Django's ValidationError drops ``code`` when given a dict; services raise ``invalid(...)``
so the API can always answer ``{"code": ..., "message": ..., "details": {field: [...]}}``."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def invalid(message: str, *, code: str, field: str | None = None) -> ValidationError:
    if field is None:
        return ValidationError(message, code=code)
    error = ValidationError({field: [ValidationError(message, code=code)]})
    error.code = code
    return error
