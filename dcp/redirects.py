"""Redirect targets that come from a request (``next=``): only paths on the host that served
the request. Anything else — another host, a scheme-relative ``//evil.example``, a
``javascript:`` URL — falls back to a page of our choosing (no open redirect)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, candidate: str | None, fallback: str) -> str:
    """``candidate`` if it is safe to send this request's user to, else ``fallback``."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback
