"""Settings shared by every profile.

Profiles (one code path, switched by settings only):
- ``config.settings.embedded`` (default): SQLite, in-memory channel layer, tasks run in-process,
  local files, the local fake WeChat server.
- ``config.settings.production``: PostgreSQL, Redis channel layer + Celery broker, Celery workers,
  S3-compatible evidence storage, real WeChat. Required variables have no defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(os.environ.get("MONITOR_DATA_DIR", BASE_DIR / "data"))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "accounts",
    "exams",
    "monitor",
    "media_pipeline",
    "miniprogram_api",
    "media_pipeline.evidence",
    "monitor.console",
    "monitor.phone",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/accounts/login/"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Candidates and proctors read Chinese first; English is available.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": "120/min",
        "user": "600/min",
        "wechat_login": "30/min",
        "binding": "20/min",
        "desktop_login": "30/min",
        "pairing_claim": "30/min",
        "ws_ticket": "120/min",
        "phone_claim": "20/min",  # the phone-browser page: confirm codes / ID numbers tried per IP
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Exam cloud monitor API",
    "DESCRIPTION": "REST API for the WeChat mini-program, the desktop exam client and proctors. "
    "The WebSocket protocol is documented in docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Clients send JSON; documenting form/multipart bodies too made schemathesis send empty multipart
    # bodies, which Twisted (under daphne) answers with a bare 400 before Django sees the request.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
}

# --- Celery (the broker is only used by the production profile) -------------------------------
CELERY_TASK_ACKS_LATE = True  # every task is idempotent; a killed worker's task is redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# In the embedded profile tasks run on a thread pool inside the server process (config.taskqueue).
TASKS_IN_PROCESS = False

# --- Secrets used for data at rest -------------------------------------------------------------
# ID numbers: HMAC key for the lookup hash, Fernet key for the encrypted copy (see accounts.crypto).
# Evidence export manifests are signed with EXPORT_SIGNING_KEY.

# --- WeChat -----------------------------------------------------------------------------------
WECHAT_API_BASE_URL = "https://api.weixin.qq.com/"
# errcode -1 (system busy) is retried this many times, waiting BACKOFF * 2**n seconds (accounts.wechat).
WECHAT_BUSY_RETRIES = 3
WECHAT_BUSY_BACKOFF_SECONDS = 0.2
# Binding lockout: this many failed ticket/ID attempts per WeChat identity / per IP within the window.
BINDING_FAILURE_WINDOW_SECONDS = 15 * 60
BINDING_MAX_FAILURES_PER_IDENTITY = 5
BINDING_MAX_FAILURES_PER_IP = 20

# --- Exam monitor defaults (per-session values live on ExamSession) ----------------------------
PAIRING_TOKEN_TTL_SECONDS = 120
WS_TICKET_TTL_SECONDS = 60
# Environment overrides let a test server use a short timeout (the default is the product's).
HEARTBEAT_TIMEOUT_SECONDS = float(os.environ.get("HEARTBEAT_TIMEOUT_SECONDS", "15"))
# Per WebSocket connection: sustained messages per second and burst (token bucket); a phone sends a
# heartbeat every few seconds, audio every second, a frame every ~10 s and a burst when resuming.
WS_MESSAGES_PER_SECOND = float(os.environ.get("WS_MESSAGES_PER_SECOND", "10"))
WS_MESSAGES_BURST = int(os.environ.get("WS_MESSAGES_BURST", "40"))
# At most one ``audio`` meter delta per attempt to its proctors every so many seconds (monitor).
WS_AUDIO_DELTA_INTERVAL_SECONDS = float(os.environ.get("WS_AUDIO_DELTA_INTERVAL_SECONDS", "2"))
# Those deltas of one session travel to its proctors together, one channel-layer message per
# WS_FANOUT_BATCH_MS window (monitor.fanout).
WS_FANOUT_BATCH_MS = float(os.environ.get("WS_FANOUT_BATCH_MS", "500"))
# Phone sockets' audio batches and liveness touches are written together (monitor.writer): one
# transaction per WS_WRITE_BATCH_MS window or WS_WRITE_BATCH_MAX items; acks follow the commit.
WS_WRITE_BATCH_MS = float(os.environ.get("WS_WRITE_BATCH_MS", "10"))
WS_WRITE_BATCH_MAX = int(os.environ.get("WS_WRITE_BATCH_MAX", "500"))
# Thread pools per server process for the sockets' blocking work (monitor.consumers.executor):
# snapshot ingest (fsync, S3: mostly waiting) and other ORM work; sized in docs/reliability.md.
WS_MEDIA_THREADS = int(os.environ.get("WS_MEDIA_THREADS", "16"))
WS_DB_THREADS = int(os.environ.get("WS_DB_THREADS", "8"))
WS_PROCTOR_THREADS = int(os.environ.get("WS_PROCTOR_THREADS", "4"))
SNAPSHOT_MAX_BYTES = 1_048_576
SNAPSHOT_MAX_PIXELS = 4096 * 4096
MINIPROGRAM_TOKEN_TTL_SECONDS = 7 * 24 * 3600
# Embedded profile: how often the in-process scheduler runs the token expiry sweep (beat does it in
# production: CELERY_BEAT_SCHEDULE["accounts-expire-tokens"]).
ACCOUNTS_TOKEN_SWEEP_SECONDS = float(os.environ.get("ACCOUNTS_TOKEN_SWEEP_SECONDS", "60"))
DESKTOP_TOKEN_TTL_SECONDS = 12 * 3600
PUBLIC_BASE_URL = "http://127.0.0.1:8000"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "config.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # daphne logs full request paths, which may carry one-time query parameters; they are redacted.
        "daphne": {"level": "WARNING"},
    },
}

# --- Evidence export, retention (media_pipeline.evidence) ----------------------------------------
# Lifetime of an export download link (presigned S3 URL or signed local link).
EXPORT_LINK_TTL_SECONDS = 300
# Daily retention purge (`celery -A config beat`); dry-run first with `manage.py purge_evidence --dry-run`.
CELERY_BEAT_SCHEDULE = {
    "evidence-purge-daily": {"task": "evidence.purge", "schedule": 24 * 3600.0},
    # Expired logins: announce them so WebSockets opened with them close (accounts.tasks).
    "accounts-expire-tokens": {
        "task": "accounts.expire_tokens",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    # Exam deadlines (20 s away, 5 min break/reconnect, end time, absence): the safety-net sweep that
    # fires whatever fell due, including while no worker ran. Each deadline also has a countdown task.
    "exams-deadline-sweep": {"task": "exams.sweep_deadlines", "schedule": 1.0, "options": {"expires": 5}},
    # Frames not analysed or not uploaded long after they were stored (media_pipeline.tasks).
    "media-snapshot-sweep": {
        "task": "media.snapshot_sweep",
        "schedule": float(os.environ.get("MEDIA_SNAPSHOT_SWEEP_SECONDS", "60")),
        "options": {"expires": 50},
    },
}
# Embedded profile: the serving process runs the same sweep in a thread (exams.scheduler).
# None = on whenever tasks run in-process (TASKS_IN_PROCESS); set True/False to override.
EXAMS_INPROCESS_SCHEDULER: bool | None = None
