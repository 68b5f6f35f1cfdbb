"""Settings, read from the environment in this one place.

With no variables set the service runs on one machine with no other server: SQLite, an
in-process cache, challenges in the database and Celery tasks run eagerly. Set REDIS_URL to
move the cache, the challenge store and the Celery broker to Redis.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Production unless asked otherwise: scripts/serve and scripts/test opt into development with DEBUG=true.
DEBUG = env.bool("DEBUG", default=False)
DEVELOPMENT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - public, for development only
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not DEBUG and (not SECRET_KEY.strip() or SECRET_KEY == DEVELOPMENT_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a secret value outside development (or set DEBUG=true for development)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])

# The public base URL of this service; login tokens name it in `iss`. When unset, the URL the
# request arrived on is used.
SERVICE_URL = env.str("SERVICE_URL", default="").rstrip("/")

# Key that encrypts tenants' token-signing keys at rest; derived from SECRET_KEY when unset.
SIGNING_KEY_ENCRYPTION_KEY = env.str("SIGNING_KEY_ENCRYPTION_KEY", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "tenants",
    "passkeys",
    "analytics",
    "webhooks",
    "api",
    "demo",
]

# Every request passes these; the API (/v1/) and the probes only these (core/middleware.py).
MIDDLEWARE = [
    "api.observability.PrometheusMiddleware",  # first, so it times and counts every answer
    "api.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.SiteMiddleware",  # the pages go on through SITE_MIDDLEWARE
    "tenants.middleware.AuditContextMiddleware",  # who and from where, for the audit log
]
# The admin, dashboard, accounts and demo pages, after the above. The admin's middleware checks look in MIDDLEWARE;
# core.E001 looks here instead.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]
SITE_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.ratelimit.LoginRateLimitMiddleware",  # before CSRF: guesses without a token count too
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "passkey_service.urls"
WSGI_APPLICATION = "passkey_service.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several granian workers write one file: WAL lets readers run beside the writer, writing
    # transactions take the write lock when they begin (a deferred one that upgrades later fails at
    # once with "database is locked", whatever the timeout), and a writer waits its turn up to 20 s.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env.str("DATABASE_REPLICA_URL", default=""):
    # A read replica for the adoption report's reads (core/db_router.py); writes always go to "default". In tests it
    # may name the primary's own database: the test runner then reuses default's test database for it.
    DATABASES["replica"] = {
        **env.db_url("DATABASE_REPLICA_URL"),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["core.db_router.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The FIDO Metadata Service: the BLOB's trust anchor (the FIDO Alliance root, shipped; a PEM path replaces it) and
# where beat fetches the BLOB from (unset: nothing is ever fetched; `manage.py mds_import PATH` loads one by hand).
MDS_ROOT_CERT = env.str("MDS_ROOT_CERT", default=str(BASE_DIR / "passkeys" / "data" / "fido-mds-root.pem"))
MDS_URL = env.str("MDS_URL", default="")

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # django-redis keeps one client per process; Django's own backend builds one per call (~100 µs).
    # Timeouts, so a Redis that stops answering turns requests into 503s instead of hanging them.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1.0, "SOCKET_TIMEOUT": 1.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis as broker when configured, otherwise tasks run in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_BEAT_SCHEDULE = {
    "compute-adoption-metrics": {"task": "analytics.tasks.compute_adoption_metrics", "schedule": 900.0},
    "schedule-nudges": {"task": "analytics.tasks.schedule_nudges", "schedule": 300.0},
    "purge-expired": {"task": "analytics.tasks.purge_expired", "schedule": 3600.0},
    "ensure-event-partitions": {"task": "analytics.tasks.ensure_event_partitions", "schedule": 6 * 3600.0},
    "deliver-webhooks": {"task": "webhooks.tasks.deliver_due", "schedule": 60.0},
    "refresh-metadata": {"task": "passkeys.tasks.refresh_metadata", "schedule": 6 * 3600.0},  # a no-op without MDS_URL
}
# Webhook deliveries wait on other people's servers: their own queue (and worker, `-Q webhooks`),
# so metrics and nudges on the default queue never wait behind them. Both queues are declared so
# a worker started without -Q (development, tests) consumes both.
CELERY_TASK_QUEUES = {"celery": {}, "webhooks": {}}
CELERY_TASK_ROUTES = {
    "webhooks.tasks.deliver": {"queue": "webhooks"},
    "webhooks.tasks.deliver_due": {"queue": "webhooks"},
}
# Networks webhooks may reach besides the public internet (CIDRs; plain http only inside them): off by default.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
# Total time of one delivery (connect, TLS, send, read), so a trickling receiver cannot hold a worker.
WEBHOOK_DEADLINE_SECONDS = env.float("WEBHOOK_DEADLINE_SECONDS", default=10.0)
# Attempts one endpoint may have in flight at once, so one slow endpoint cannot take every worker.
WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = env.int("WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", default=4)
# The longest single wait (connect, one read) within that deadline.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Deliveries a sweep without workers (embedded mode, `manage.py deliver_webhooks`) sends at once.
WEBHOOK_SWEEP_CONCURRENCY = env.int("WEBHOOK_SWEEP_CONCURRENCY", default=8)
# Attempts per delivery before it is marked failed (an admin may still redeliver it).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# Back-off after the n-th failed attempt: base × 4^(n-1), capped, so a down receiver is not hammered (30 s … 12 h).
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=12 * 3600.0)
# How long a rotated-out secret keeps signing beside the new one, so receivers can switch without a gap.
WEBHOOK_SECRET_OVERLAP_SECONDS = env.float("WEBHOOK_SECRET_OVERLAP_SECONDS", default=24 * 3600.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.HasKeyScope"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Passkey service API",
    "DESCRIPTION": "WebAuthn ceremonies, credentials and login tokens for relying-party backends.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/v1",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.postprocess"],
    # /v1/users/<path:rest> is one function (user ids may hold "/"); this documents its two operations.
    "PREPROCESSING_HOOKS": ["api.user_routes.document_user_routes"],
    "ENUM_NAME_OVERRIDES": {"RequirementEnum": "api.views.ceremonies.REQUIREMENTS"},
}

# The demo relying party at /demo/: on by default in development, off in production. It reaches the
# /v1 API over HTTP like any relying party, with its tenant's key (`manage.py demo_tenant` prints
# both); DEMO_API_URL defaults to SERVICE_URL, else (with DEBUG only) to the address the browser used.
DEMO_ENABLED = env.bool("DEMO_ENABLED", default=DEBUG)
DEMO_API_URL = env.str("DEMO_API_URL", default="").rstrip("/")
DEMO_API_KEY = env.str("DEMO_API_KEY", default="")
DEMO_TENANT_ID = env.str("DEMO_TENANT_ID", default="")
DEMO_RP_ID = env.str("DEMO_RP_ID", default="localhost")  # the audience of the login tokens it accepts
# Its passkey sign-in endpoints need no account, so they are limited per client IP (requests a minute).
DEMO_PASSKEY_RATE_LIMIT_PER_IP = env.int("DEMO_PASSKEY_RATE_LIMIT_PER_IP", default=60)

# Rate limits per client IP, requests per minute (0 turns one off); the per-key and per-user
# limits of the ceremony endpoints are tenant settings. Counted in Redis, else the database.
RATE_LIMIT_JWKS_PER_IP = env.int("RATE_LIMIT_JWKS_PER_IP", default=300)
RATE_LIMIT_LOGIN_PER_IP = env.int("RATE_LIMIT_LOGIN_PER_IP", default=10)
# Bounds on the tenant settings rate_limit_per_key / rate_limit_per_user (requests per minute), so a
# tenant admin can neither switch a limit off (0) nor claim a shared server; MIN=0 allows "off".
RATE_LIMIT_PER_KEY_MIN = env.int("RATE_LIMIT_PER_KEY_MIN", default=1)
RATE_LIMIT_PER_KEY_MAX = env.int("RATE_LIMIT_PER_KEY_MAX", default=60_000)
RATE_LIMIT_PER_USER_MIN = env.int("RATE_LIMIT_PER_USER_MIN", default=1)
RATE_LIMIT_PER_USER_MAX = env.int("RATE_LIMIT_PER_USER_MAX", default=600)
# GET /v1/metrics/adoption per API key per minute (0 turns it off): a report may compute up to 400 days.
RATE_LIMIT_METRICS_PER_KEY = env.int("RATE_LIMIT_METRICS_PER_KEY", default=60)
# Browsers' outcome reports (POST /v1/client-events) per minute per client IP; each token also allows only 10.
RATE_LIMIT_CLIENT_EVENTS_PER_IP = env.int("RATE_LIMIT_CLIENT_EVENTS_PER_IP", default=300)
# How many proxies of ours append to X-Forwarded-For; 0 trusts REMOTE_ADDR only.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Prometheus metrics at /metrics, served to these peer addresses or networks (REMOTE_ADDR, never a
# forwarded header) or to `Authorization: Bearer METRICS_TOKEN`; anyone else gets 404.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=DEBUG)
METRICS_ALLOWED_IPS = [ip.strip() for ip in env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])]
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Set for several processes (granian workers, Celery): each writes its samples there and /metrics
# sums them. prometheus_client reads the variable itself; it must name an empty, writable folder.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

# Request bodies above this size get 413 before any parsing.
MAX_REQUEST_BODY_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True

BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
# Outside development the admin's and dashboard's cookies travel only over TLS, and once TLS is known
# to front us, browsers are told to use nothing else for a year.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if BEHIND_TLS_PROXY and not DEBUG else 0

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # python-fido2 logs every registration and login at INFO; our own events say what matters.
    "loggers": {"fido2": {"level": "WARNING"}},
}
