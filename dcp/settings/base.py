"""Settings shared by every environment. Values come from the environment (django-environ).

See the configuration table in README.md. Development defaults are safe for a laptop; the
production module (``dcp.settings.prod``) refuses to start without real secrets.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from kombu import Exchange, Queue

from dcp.logging import build_logging

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-insecure-secret-key-change-me-" + "x" * 20)

# Tenants are served at <slug>.<BASE_DOMAIN>; DCP staff at the bare BASE_DOMAIN.
BASE_DOMAIN = env.str("DCP_BASE_DOMAIN", default="opendcp.localhost")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}"])
PUBLIC_URL_SCHEME = env.str("DCP_URL_SCHEME", default="http")
PUBLIC_PORT = env.int("DCP_PUBLIC_PORT", default=0)  # 0: default port for the scheme

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "audit",
    "dcpregistry",
    "evidence",  # shared for the platform evidence key; packs live in tenant schemas
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "audit",
    "certificates",
    "participants",
    "messaging",
    "messaging.outbound",
    "messaging.inbound",
    "retention",
    "console",
    "evidence",
]
INSTALLED_APPS = list(SHARED_APPS) + [a for a in TENANT_APPS if a not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "dcp.urls_public"
ROOT_URLCONF = "dcp.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "dcp.middleware.RequestIdMiddleware",
    "dcp.metrics.MetricsMiddleware",
    # DIP webhooks (/dip/inbound/<token>/) on any host, ahead of host routing and sessions.
    "messaging.inbound.webhook.InboundWebhookMiddleware",
    "tenants.middleware.TenantRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.SessionHostMiddleware",
    "tenants.middleware.ApiTokenExpiryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # MFA before tenant access: a session that has not passed MFA reaches nothing (not even
    # the staff-access audit entry).
    "tenants.middleware.RequireMfaMiddleware",
    "tenants.middleware.TenantAccessMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.tenancy",
                "messaging.outbound.context_processors.dip_availability",
            ],
        },
    },
]

WSGI_APPLICATION = "dcp.wsgi.application"
ASGI_APPLICATION = "dcp.asgi.application"

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL",
        default=f"postgres://opendcp@127.0.0.1:{env.int('DCP_PG_PORT', default=54329)}/opendcp",
        engine="django_tenants.postgresql_backend",
    )
}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str(
    "REDIS_URL", default=f"redis://127.0.0.1:{env.int('DCP_REDIS_PORT', default=63799)}/0"
)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}

AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

# --- allauth -------------------------------------------------------------------------------
ACCOUNT_ADAPTER = "tenants.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = False
# allauth's "login_failed" limit now guards MFA codes (per user); failed passwords are throttled
# by tenants.login_throttle (growing delays per IP + account, 429 + Retry-After, docs/security.md).
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
}
LOGIN_FAILURES_FREE_PER_ACCOUNT = env.int("DCP_LOGIN_FAILURES_FREE_PER_ACCOUNT", default=5)
LOGIN_FAILURES_FREE_PER_IP = env.int("DCP_LOGIN_FAILURES_FREE_PER_IP", default=50)
LOGIN_DELAY_BASE_SECONDS = env.int("DCP_LOGIN_DELAY_BASE_SECONDS", default=2)
LOGIN_DELAY_MAX_SECONDS = env.int("DCP_LOGIN_DELAY_MAX_SECONDS", default=900)
LOGIN_FAILURES_FORGET_SECONDS = env.int("DCP_LOGIN_FAILURES_FORGET_SECONDS", default=24 * 3600)
# Client IPs (rate limits, audit) from X-Forwarded-For only behind this many proxies we run.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("DCP_TRUSTED_PROXY_COUNT", default=0)
MFA_ADAPTER = "tenants.adapters.MfaAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "OpenDCP"
MFA_RECOVERY_CODE_COUNT = 10
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"

# Host-only cookies: the platform host and every tenant host each have their own session and
# CSRF cookie (no Domain attribute), so a cookie set on one tenant's host is never sent to
# another's and one host cannot plant a cookie for the others. Switching hosts hands the sign-in
# over with a one-time token (tenants.handoff). docs/security.md, "Sessions and cookies".
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Same-origin posts need no entry (Django compares Origin with the request's own host); another
# tenant's host is never trusted. Only for a proxy that rewrites Host, list the public origin.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# A sign-in handed from one host to another (tenant switcher) is valid this long, once.
LOGIN_HANDOFF_SECONDS = env.int("DCP_LOGIN_HANDOFF_SECONDS", default=60)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OpenDCP <no-reply@opendcp.localhost>")

INVITATION_TTL = timedelta(days=env.int("DCP_INVITATION_TTL_DAYS", default=7))

# --- secrets (envelope encryption) ----------------------------------------------------------
# Master keys by key id (base64 of 32 random bytes). The active one wraps new data keys; the
# others only unwrap until `manage.py rotate_master_key` re-wraps everything.
DCP_MASTER_KEYS = env.dict(
    "DCP_MASTER_KEYS", default={"dev-1": "ZGV2LW9ubHktbWFzdGVyLWtleS0zMi1ieXRlcy0hISE="}
)
DCP_MASTER_KEY_ID = env.str("DCP_MASTER_KEY_ID", default="dev-1")

# --- REST API -------------------------------------------------------------------------------
# API tokens: issued by POST /api/v1/me/token/ to MFA-authenticated sessions, valid this long.
API_TOKEN_TTL = timedelta(days=env.int("DCP_API_TOKEN_TTL_DAYS", default=30))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "dcp.api.permissions.TenantMember",
    ],
    "DEFAULT_PAGINATION_CLASS": "dcp.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "dcp.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "dcp.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"user": "6000/min", "anon": "120/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OpenDCP API",
    "DESCRIPTION": "DIP Connection Provider platform: tenants, members, audit and messaging.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Each host serves its own schema (dcp.api.schema.schema_urlpatterns); every operation
    # documents the shared error answers.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dcp.api.schema.add_error_responses",
        "dcp.api.schema.add_create_links",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TenantStatusEnum": "tenants.models.Tenant.Status",
        "InvitationStatusEnum": "tenants.models.Invitation.Status",
        "CertificateStateEnum": "certificates.models.Certificate.State",
        "ApiKeyStateEnum": "participants.models.ApiKey.State",
        "MessageStateEnum": "messaging.states.State",
        "ClientEndpointStateEnum": "messaging.inbound.models.ClientEndpoint.State",
        "EndpointDeliveryStateEnum": "messaging.inbound.models.EndpointDelivery.State",
        "StatusReplyStateEnum": "messaging.inbound.models.StatusReply.State",
        "ChecklistStatusEnum": "participants.models.ChecklistItem.Status",
        "BulkActionKindEnum": "console.models.BulkAction.Kind",
        "ExceptionCategoryEnum": "messaging.models.ExceptionCategory",
        "EvidencePackKindEnum": "evidence.models.EvidencePack.Kind",
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_QUEUES = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("inbound", "outbound", "delivery", "certificates", "housekeeping")
]
CELERY_TASK_ROUTES = {
    "audit.*": {"queue": "housekeeping", "routing_key": "housekeeping"},
    "housekeeping.*": {"queue": "housekeeping", "routing_key": "housekeeping"},
    "participants.*": {"queue": "housekeeping", "routing_key": "housekeeping"},
    "certificates.*": {"queue": "certificates"},
    "retention.*": {"queue": "housekeeping", "routing_key": "housekeeping"},
    "evidence.*": {"queue": "housekeeping", "routing_key": "housekeeping"},
    "console.*": {"queue": "housekeeping", "routing_key": "housekeeping"},
    "messaging_outbound.*": {"queue": "outbound", "routing_key": "outbound"},
    "messaging_inbound.push_*": {"queue": "delivery", "routing_key": "delivery"},
    "messaging_inbound.*": {"queue": "inbound", "routing_key": "inbound"},
}
# dcp.health: the housekeeping.heartbeat_dispatch task and the worker heartbeat bootstep.
CELERY_IMPORTS = ["dcp.health"]
CELERY_BEAT_SCHEDULE = {
    "housekeeping-heartbeat": {
        "task": "housekeeping.heartbeat_dispatch",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "retention-purge": {
        "task": "retention.purge_dispatch",
        "schedule": crontab(minute=40, hour=3),
    },
    "audit-verify-chains": {
        "task": "audit.verify_chains_dispatch",
        "schedule": crontab(minute=17, hour=3),
    },
    "participants-due-transfers": {
        "task": "participants.execute_transfers_dispatch",
        "schedule": crontab(minute="*/5"),
    },
    "certificates-daily-scan": {
        "task": "certificates.scan_dispatch",
        "schedule": crontab(minute=5, hour=2),
    },
    "evidence-expire-packs": {
        "task": "evidence.expire_dispatch",
        "schedule": crontab(minute=50, hour=3),
    },
    "console-alerts": {
        "task": "console.alerts_dispatch",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "outbound-sweep": {"task": "messaging_outbound.sweep_dispatch", "schedule": 5.0},
    "outbound-timers": {"task": "messaging_outbound.timers_dispatch", "schedule": 5.0},
    "inbound-sweep": {"task": "messaging_inbound.sweep_dispatch", "schedule": 30.0},
    "inbound-archive-raw": {
        "task": "messaging_inbound.archive_dispatch",
        "schedule": crontab(minute=40),
    },
}

# --- certificates (docs/certificates.md) ------------------------------------------------------
CERTIFICATES_RENEWAL_LEAD_DAYS = env.int("DCP_CERT_RENEWAL_LEAD_DAYS", default=30)
CERTIFICATES_SWITCH_OVER_DELAY_HOURS = env.int("DCP_CERT_SWITCH_OVER_DELAY_HOURS", default=48)
CERTIFICATES_VALIDITY_DAYS = env.int("DCP_CERT_VALIDITY_DAYS", default=365)
CERTIFICATES_ALERT_DAYS = [
    int(d) for d in env.list("DCP_CERT_ALERT_DAYS", default=[60, 30, 14, 7, 1])
]
CERTIFICATES_PROVIDER_TIMEOUT = env.float("DCP_CERT_PROVIDER_TIMEOUT", default=30.0)
# Which provider issues new certificates per DIP environment: "local_ca" or "globalsign".
CERTIFICATES_DEFAULT_PROVIDER = {
    name: env.str(f"DCP_CERT_PROVIDER_{name}", default="local_ca") for name in ("UIT", "PRD")
}
# GlobalSign Atlas (HVCA) credentials per DIP environment; empty URL = not configured.
GLOBALSIGN_ATLAS = {
    name: {
        "url": env.str(f"DCP_GLOBALSIGN_{name}_URL", default=""),
        "api_key": env.str(f"DCP_GLOBALSIGN_{name}_API_KEY", default=""),
        "api_secret": env.str(f"DCP_GLOBALSIGN_{name}_API_SECRET", default=""),
        "client_cert": env.str(f"DCP_GLOBALSIGN_{name}_CLIENT_CERT", default=""),
        "client_key": env.str(f"DCP_GLOBALSIGN_{name}_CLIENT_KEY", default=""),
        "ca_bundle": env.str(f"DCP_GLOBALSIGN_{name}_CA_BUNDLE", default=""),
    }
    for name in ("UIT", "PRD")
}

# --- inbound pipeline (docs/inbound.md) --------------------------------------------------------
# PEM file(s) holding the CA certificate(s) the DIP's signing certificate must chain to. Dev and
# tests: the sandbox CA (written by the sandbox, also served at /sandbox/ca.pem).
DIP_TRUST_ROOTS = env.list(
    "DCP_DIP_TRUST_ROOTS", default=[str(BASE_DIR / ".local" / "sandbox" / "pki" / "ca.crt")]
)
DIP_SIGNATURE_MAX_SKEW = env.int("DCP_DIP_SIGNATURE_MAX_SKEW", default=300)  # seconds
# The externally registered base URL of the webhooks (what the DIP signs; never rebuilt from
# Host). Channel URLs are <base>/dip/inbound/<token>/.
DIP_WEBHOOK_BASE_URL = env.str("DCP_DIP_WEBHOOK_BASE_URL", default="http://127.0.0.1:8000")
# Where the platform calls the DIP (Send API, status messages, pubconfig) per environment.
# One table for every DIP call (Send API, status messages, pubconfig, replay): DIP_BASE_URLS,
# below. DIP_API_URLS is the same table under the name the inbound code uses.
# Fallback API key (the DCP's own) when a DIP ID has no key of its own.
DIP_DCP_API_KEY = env.str("DCP_DIP_DCP_API_KEY", default="demo-dcp-primary-key")
INBOUND_MAX_BYTES = env.int("DCP_INBOUND_MAX_BYTES", default=20 * 1024 * 1024)
INBOUND_ROUTE_TTL = env.float("DCP_INBOUND_ROUTE_TTL", default=30.0)  # seconds
INBOUND_UNKNOWN_PATH_LIMIT = env.int("DCP_INBOUND_UNKNOWN_PATH_LIMIT", default=30)  # per minute/IP
# Failed-signature POSTs per channel token a minute: each gets 400 and a receipt row; past the
# limit 429 + Retry-After, no receipt, no database work (docs/security.md).
INBOUND_SIGNATURE_FAILURE_LIMIT = env.int("DCP_INBOUND_SIGNATURE_FAILURE_LIMIT", default=10)
INBOUND_SEND_L4_STATUS = env.bool("DCP_INBOUND_SEND_L4_STATUS", default=True)
INBOUND_ARCHIVE_AFTER_DAYS = env.int("DCP_INBOUND_ARCHIVE_AFTER_DAYS", default=30)
# The webhook's one capture statement is prepared per connection (docs/inbound.md); turn off behind
# a transaction-pooling PgBouncer older than 1.21, which cannot carry prepared statements.
INBOUND_PREPARED_STATEMENTS = env.bool("DCP_INBOUND_PREPARED_STATEMENTS", default=True)
# Outbound URL policy (SSRF guard, dcp/net/outbound.py, docs/security.md): every URL called on a
# tenant's behalf must resolve to public addresses, except networks/hosts listed here ("CIDR",
# "IP:PORT", "[IPv6]:PORT", "HOST[:PORT]"). Loopback by default for development, tests and the
# benches (their client endpoints listen on 127.0.0.1); production settings default to none.
OUTBOUND_URL_ALLOW = env.list("DCP_OUTBOUND_URL_ALLOW", default=["127.0.0.0/8", "::1"])
OUTBOUND_HTTPS_ONLY = env.bool("DCP_OUTBOUND_HTTPS_ONLY", default=False)  # True in production
# Client push retries (seconds between attempts; the last one repeats) and when a failing
# endpoint is paused (hours of continuous failure). 10 s ... 8 h: over 24 h before pausing.
PUSH_RETRY_SCHEDULE = [
    int(s)
    for s in env.list(
        "DCP_PUSH_RETRY_SCHEDULE",
        default=[10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800],
    )
]
PUSH_PAUSE_AFTER_HOURS = env.float("DCP_PUSH_PAUSE_AFTER_HOURS", default=24.0)
PUSH_TIMEOUT = env.float("DCP_PUSH_TIMEOUT", default=10.0)
PUSH_SECRET_OVERLAP_HOURS = env.float("DCP_PUSH_SECRET_OVERLAP_HOURS", default=24.0)

# --- outbound pipeline (docs/outbound.md) -----------------------------------------------------
# Send API base URL per DIP environment (issued at onboarding); default: the local sandbox.
DIP_BASE_URLS = {
    name: env.str(
        f"DCP_DIP_BASE_URL_{name}",
        default=env.str(f"DCP_DIP_{name}_URL", default="http://127.0.0.1:8800"),
    )
    for name in ("DEV", "UIT", "SIT", "SITB", "PRD")
}
DIP_API_URLS = DIP_BASE_URLS
DIP_CA_FILE = env.str("DCP_DIP_CA_FILE", default="")  # extra trust for the DIP's TLS server
DIP_TIMEOUT = env.float("DCP_DIP_TIMEOUT", default=10.0)  # seconds per Send API call
OUTBOUND = {
    "BATCH_SIZE": env.int("DCP_OUTBOUND_BATCH_SIZE", default=100),
    # Interfaces whose messages go one per POST (every interface may be batched by default).
    "UNBATCHED_INTERFACES": env.list("DCP_OUTBOUND_UNBATCHED_INTERFACES", default=[]),
    # Per-MPAN order: "*" = every interface with an MPAN, or a list of interface IDs.
    "ORDERED_INTERFACES": env.list("DCP_OUTBOUND_ORDERED_INTERFACES", default=["*"]),
    "TENANT_CONCURRENCY": env.int("DCP_OUTBOUND_TENANT_CONCURRENCY", default=2),
    "DIP_ID_CONCURRENCY": env.int("DCP_OUTBOUND_DIP_ID_CONCURRENCY", default=2),
    "LEASE_SECONDS": env.float("DCP_OUTBOUND_LEASE_SECONDS", default=60.0),
    "LOOP_SECONDS": env.float("DCP_OUTBOUND_LOOP_SECONDS", default=20.0),
    # Retries: exponential back-off with full jitter up to a maximum total wait (DIP rules).
    "RETRY_BASE_DELAY": env.float("DCP_OUTBOUND_RETRY_BASE_DELAY", default=1.0),
    "RETRY_MAX_DELAY": env.float("DCP_OUTBOUND_RETRY_MAX_DELAY", default=60.0),
    # A message the DIP never refused fails only this long after it was queued (7 days: far
    # beyond the programme's 72-hour DIP outage); retries are not counted, only time.
    "GIVE_UP_AFTER": env.float("DCP_OUTBOUND_GIVE_UP_AFTER", default=7 * 24 * 3600.0),
    # DIP outage (docs/outbound.md): this many transport/5xx answers in a row, spanning at least
    # OUTAGE_AFTER_SECONDS, mark the environment's DIP unavailable; then one probe batch every
    # PROBE_INTERVAL s; after recovery the backlog drains at DRAIN_RATE msg/s (0 = unpaced).
    "OUTAGE_AFTER_FAILURES": env.int("DCP_OUTBOUND_OUTAGE_AFTER_FAILURES", default=10),
    "OUTAGE_AFTER_SECONDS": env.float("DCP_OUTBOUND_OUTAGE_AFTER_SECONDS", default=60.0),
    "PROBE_INTERVAL": env.float("DCP_OUTBOUND_PROBE_INTERVAL", default=60.0),
    "DRAIN_RATE": env.float("DCP_OUTBOUND_DRAIN_RATE", default=200.0),
    # A batch refused whole with only the generic code (MSG1000): its messages are sent alone;
    # one refused so this many times on its own is rejected.
    "GENERIC_REJECT_LIMIT": env.int("DCP_OUTBOUND_GENERIC_REJECT_LIMIT", default=5),
    # Status window (docs/outbound.md "Status semantics"): after the DIP accepts a message we
    # wait this long for a status; silence past it settles the message "no issue reported"
    # (recipients send statuses only when there is an issue). Default 16 s: the slowest async
    # (L4) p90 the DIP rules allow (12 s at average load, 16 s at peak). Per interface:
    # DCP_OUTBOUND_STATUS_WINDOWS="IF-031=300,IF-033=600" (seconds). A negative status
    # rejects the message whenever it arrives, also after the window.
    "STATUS_WINDOW_SECONDS": env.float(
        "DCP_OUTBOUND_STATUS_WINDOW",
        default=env.float("DCP_OUTBOUND_STATUS_TIMEOUT", default=16.0),  # the former name
    ),
    "STATUS_WINDOWS": env.str("DCP_OUTBOUND_STATUS_WINDOWS", default=""),
}

# --- storage, static, i18n ------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("DCP_MEDIA_ROOT", default=str(BASE_DIR / ".local" / "media"))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if env.str("DCP_S3_BUCKET", default=""):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("DCP_S3_BUCKET"),
            "endpoint_url": env.str("DCP_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("DCP_S3_REGION", default=None),
        },
    }

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- operability (docs/operations.md) ----------------------------------------------------------
DCP_LOG_FORMAT = env.str("DCP_LOG_FORMAT", default="plain")  # json | plain (prod: json)
DCP_LOG_LEVEL = env.str("DCP_LOG_LEVEL", default="INFO")
LOGGING = build_logging(fmt=DCP_LOG_FORMAT, level=DCP_LOG_LEVEL)
DCP_METRICS_TOKEN = env.str("DCP_METRICS_TOKEN", default="")  # empty: staff sessions only
DCP_METRICS_CACHE_SECONDS = env.float("DCP_METRICS_CACHE_SECONDS", default=15.0)
DCP_METRICS_WINDOW_HOURS = env.int("DCP_METRICS_WINDOW_HOURS", default=24)
DCP_METRICS_CERT_DAYS = [int(d) for d in env.list("DCP_METRICS_CERT_DAYS", default=[7, 14, 30])]
DCP_METRICS_ENDPOINT_MODELS = ["messaging_inbound.ClientEndpoint"]
DCP_READYZ_CACHE_SECONDS = env.float("DCP_READYZ_CACHE_SECONDS", default=5.0)
DCP_HEARTBEAT_PREFIX = env.str("DCP_HEARTBEAT_PREFIX", default="dcp:heartbeat")
DCP_WORKER_HEARTBEAT_INTERVAL = env.float("DCP_WORKER_HEARTBEAT_INTERVAL", default=15.0)
DCP_WORKER_HEARTBEAT_MAX_AGE = env.float("DCP_WORKER_HEARTBEAT_MAX_AGE", default=60.0)
DCP_BEAT_HEARTBEAT_MAX_AGE = env.float("DCP_BEAT_HEARTBEAT_MAX_AGE", default=180.0)
# Retention defaults for a tenant without its own policy (retention.RetentionPolicy), in days.
RETENTION_DEFAULTS = {
    "raw_body_days": env.int("DCP_RETENTION_RAW_BODY_DAYS", default=2557),
    "message_days": env.int("DCP_RETENTION_MESSAGE_DAYS", default=2557),
    "log_days": env.int("DCP_RETENTION_LOG_DAYS", default=400),
}
DCP_ENVIRONMENT_BADGE = env.str("DCP_ENVIRONMENT_BADGE", default="DEV")
WHITENOISE_USE_FINDERS = True
