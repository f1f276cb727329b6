"""The embedded default: everything in one process, nothing to install but Python packages."""

from __future__ import annotations

import os

import dj_database_url

from .base import *  # noqa: F403
from .base import DATA_DIR

DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
# A development key: the embedded profile never serves real candidates.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "embedded-dev-key-not-for-production-0123456789abcdef")
ALLOWED_HOSTS = ["*"]
CSRF_TRUSTED_ORIGINS = os.environ.get(
    "CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"
).split(",")

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the server, the in-process tasks and the demo read while one writes. IMMEDIATE: a
    # transaction takes the write lock when it begins and waits for it (timeout); a deferred one that
    # read first fails at once with "database is locked" when another connection wrote meanwhile
    # (SQLITE_BUSY_SNAPSHOT) - what in-process frame analysis hit while frames kept arriving.
    # synchronous=NORMAL: in WAL mode a commit is durable against a crash of the process (what the
    # ack promises here) without an fsync per commit; a power cut may lose the last commits. The
    # embedded profile is a single machine's demo/dev set-up; production is PostgreSQL.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

TASKS_IN_PROCESS = True
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = None

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "media")},
    },
    "evidence": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "evidence")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The local fake WeChat server (accounts.fake_wechat), started by `make run` and the tests.
WECHAT_APP_ID = os.environ.get("WECHAT_APP_ID", "wx-fake-appid")
WECHAT_APP_SECRET = os.environ.get("WECHAT_APP_SECRET", "fake-secret")
WECHAT_API_BASE_URL = os.environ.get("WECHAT_API_BASE_URL", "http://127.0.0.1:8765/")

ID_NUMBER_HASH_KEY = os.environ.get("ID_NUMBER_HASH_KEY", "embedded-id-hash-key")
# Fernet key (urlsafe base64 of 32 bytes); a fixed development value.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "ZW1iZWRkZWQtZGV2LWtleS0zMi1ieXRlcy1sb25nLi4=")
EXPORT_SIGNING_KEY = os.environ.get("EXPORT_SIGNING_KEY", "embedded-export-signing-key")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
