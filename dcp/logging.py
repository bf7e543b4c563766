"""Structured logging: a JSON formatter, per-request/per-message context and secret masking.

Every log record gets ``request_id``, ``tenant`` (the current schema), ``user_id`` and — when
a pipeline has bound them — ``message_id`` and ``transaction_id``::

    from dcp.logging import bind

    with bind(message_id=str(message.public_id), transaction_id=message.transaction_id):
        log.info("validated")  # both ids appear on this line (and any line logged inside)

Masking policy (docs/operations.md, "Logs"): values of secret-looking keys (API keys, tokens,
passwords, secrets, Authorization/Cookie headers, private keys) become ``***``; bearer/basic
credentials in text become ``Bearer ***``; standalone 13-digit numbers (MPAN cores) keep only
their last four digits (``*********5967``). Masking runs in a filter (message, arguments and
extra fields) and again on the formatted output (exception text, anything a filter missed).

No Django import at module level: the settings module imports ``build_logging``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

message_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "log_message_id", default=None
)
transaction_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "log_transaction_id", default=None
)
# The current HTTP request (set by dcp.middleware.RequestIdMiddleware), read for the user id.
request_var: contextvars.ContextVar[Any] = contextvars.ContextVar("log_request", default=None)

CONTEXT_FIELDS = ("request_id", "tenant", "user_id", "message_id", "transaction_id")


@contextlib.contextmanager
def bind(*, message_id: str | None = None, transaction_id: str | None = None) -> Iterator[None]:
    """Attach a message id and/or DIP transaction id to every log line inside the block."""
    tokens: list[tuple[contextvars.ContextVar[str | None], contextvars.Token[str | None]]] = []
    if message_id is not None:
        tokens.append((message_id_var, message_id_var.set(str(message_id))))
    if transaction_id is not None:
        tokens.append((transaction_id_var, transaction_id_var.set(str(transaction_id))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


# --- masking -------------------------------------------------------------------------------

MASK = "***"
_SECRET_KEY_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "cookie",
    "private_key",
    "sessionid",
    "csrf",
    "signature",
)
_SECRET_KEY_RE = re.compile("|".join(re.escape(w) for w in _SECRET_KEY_WORDS), re.IGNORECASE)
# "Authorization: Bearer abc", "Bearer abc", "Basic abc" (a header line or a repr of one).
_AUTH_SCHEME_RE = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=:-]{4,}", re.IGNORECASE)
# key=value / key: value / "key": "value" for secret-looking keys.
_KEY_VALUE_RE = re.compile(
    r"""(?P<key>["']?[A-Za-z0-9_.-]*(?:"""
    + "|".join(re.escape(w) for w in _SECRET_KEY_WORDS)
    + r""")[A-Za-z0-9_.-]*["']?)(?P<sep>\s*[:=]\s*)(?P<q>["']?)(?P<value>(?!\*\*\*)[^\s"',;&}]+)""",
    re.IGNORECASE,
)
# An MPAN core is 13 digits; not part of a longer alphanumeric token (ids, hashes).
_MPAN_RE = re.compile(r"(?<![0-9A-Za-z])(\d{9})(\d{4})(?![0-9A-Za-z])")
_PEM_RE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL
)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY_RE.search(key))


def mask_text(text: str) -> str:
    """Mask secrets and MPAN cores in free text (idempotent)."""
    if not text:
        return text
    text = _PEM_RE.sub("-----PRIVATE KEY " + MASK + "-----", text)
    text = _AUTH_SCHEME_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _KEY_VALUE_RE.sub(lambda m: f"{m['key']}{m['sep']}{m['q']}{MASK}", text)
    return _MPAN_RE.sub(lambda m: "*" * 9 + m.group(2), text)


def mask_value(value: Any, *, key: str = "", depth: int = 0) -> Any:
    """Mask a structured value: secret-looking keys lose their value, strings are scanned."""
    if key and is_secret_key(key) and value not in (None, ""):
        return MASK
    if depth > 6:
        return "…"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bytes):
        return mask_text(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {str(k): mask_value(v, key=str(k), depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(v, depth=depth + 1) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) == 13:
            return mask_text(str(value))
        return value
    return mask_text(str(value))


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__.keys()
) | {"message", "asctime", "color_message", "taskName", *CONTEXT_FIELDS}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


class MaskingFilter(logging.Filter):
    """Masks the message (after %-interpolation) and extra fields of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = mask_text(message), None
        for key, value in extra_fields(record).items():
            setattr(record, key, mask_value(value, key=key))
        return True


# --- context -------------------------------------------------------------------------------


def _current_tenant() -> str:
    try:
        from django.db import connection

        return str(getattr(connection, "schema_name", "") or "-")
    except Exception:
        return "-"


def _current_user_id() -> int | None:
    request = request_var.get()
    if request is None:
        return None
    # Only a user the request has already loaded: logging must never query the database.
    user = getattr(request, "_cached_user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        pk = getattr(user, "pk", None)
        return int(pk) if pk is not None else None
    return None


class ContextFilter(logging.Filter):
    """Adds request id, tenant, user id, message id and transaction id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from dcp.middleware import current_request_id

        record.request_id = current_request_id()
        record.tenant = _current_tenant()
        record.user_id = _current_user_id()
        record.message_id = message_id_var.get()
        record.transaction_id = transaction_id_var.get()
        return True


# --- formatters ----------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the context fields, extras,
    and ``exc`` (the formatted traceback) when there is one. Output is masked."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, "-", ""):
                doc[name] = value
        for key, value in extra_fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        masked = {k: mask_value(v, key=k) if k not in CONTEXT_FIELDS else v for k, v in doc.items()}
        return json.dumps(masked, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """The human format for development, masked like the JSON one."""

    def __init__(self, fmt: str | None = None, **kwargs: Any) -> None:
        super().__init__(
            fmt or "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(tenant)s] %(message)s",
            **kwargs,
        )

    def format(self, record: logging.LogRecord) -> str:
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, "-")
        return mask_text(super().format(record))


def build_logging(*, fmt: str = "plain", level: str = "INFO") -> dict[str, Any]:
    """The LOGGING dict for settings: ``fmt`` is ``json`` or ``plain`` (DCP_LOG_FORMAT)."""
    if fmt not in ("json", "plain"):
        raise ValueError(f"DCP_LOG_FORMAT must be 'json' or 'plain' (got {fmt!r})")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "dcp.logging.ContextFilter"},
            "mask": {"()": "dcp.logging.MaskingFilter"},
        },
        "formatters": {
            "json": {"()": "dcp.logging.JsonFormatter"},
            "plain": {"()": "dcp.logging.PlainFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["context", "mask"],
            }
        },
        "root": {"handlers": ["console"], "level": level.upper()},
    }
