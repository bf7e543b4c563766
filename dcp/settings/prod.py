"""Production settings. `manage.py check --deploy` is clean with these (a test proves it).

Every secret must come from the environment: startup fails loudly if one is missing.
"""

from dcp.logging import build_logging
from dcp.settings.base import *  # noqa: F403
from dcp.settings.base import env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
DCP_MASTER_KEYS = env.dict("DCP_MASTER_KEYS")
DCP_MASTER_KEY_ID = env.str("DCP_MASTER_KEY_ID")
PUBLIC_URL_SCHEME = env.str("DCP_URL_SCHEME", default="https")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The __Host- prefix makes browsers refuse these cookies unless Secure, Path=/ and host-only.
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
X_FRAME_OPTIONS = "DENY"
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
# Outbound URL policy (docs/security.md): https only, public addresses only unless the operator
# lists an exception (an internal relay, say) in DCP_OUTBOUND_URL_ALLOW.
OUTBOUND_HTTPS_ONLY = True
OUTBOUND_URL_ALLOW = env.list("DCP_OUTBOUND_URL_ALLOW", default=[])

# One JSON object per log line in production (docs/operations.md, "Logs").
DCP_LOG_FORMAT = env.str("DCP_LOG_FORMAT", default="json")
LOGGING = build_logging(fmt=DCP_LOG_FORMAT, level=env.str("DCP_LOG_LEVEL", default="INFO"))
