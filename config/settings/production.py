"""Production: PostgreSQL, Redis (channel layer + broker), Celery workers, S3 evidence, real WeChat.

Every required variable is read with ``required()``: a missing one stops start-up with its name.
"""

from __future__ import annotations

import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403


def required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"Missing required environment variable {name} (production profile)")
    return value


def flag(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


DEBUG = False
SECRET_KEY = required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = required("DJANGO_ALLOWED_HOSTS").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

DATABASES = {"default": dj_database_url.parse(required("DATABASE_URL"), conn_max_age=60)}
if os.environ.get("DATABASE_TEST_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}

REDIS_URL = required("REDIS_URL")
# channels_redis's pub/sub layer: one subscriber connection per process reads every message for the
# process's sockets and hands each to its consumer's queue; a group_send is one PUBLISH. The list-based
# RedisChannelLayer pops one message per Redis round trip, with every consumer of the process queued
# on one lock to do it: at 500 phones the proctors' pictures arrived 14 s late (p50) against 0.12 s
# here (docs/reliability.md, step 5). Nothing in the layer is durable with either backend (a socket's
# state is re-read from the database on subscribe and on reconnect), and pub/sub drops nothing for
# "capacity" — a process that is not subscribed simply does not get the message.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            # Several hosts shard channels and groups by a hash of the name (the scale plan).
            "hosts": [
                {
                    "address": url,
                    "socket_timeout": 15,
                    "socket_connect_timeout": 5,
                    # redis-py's asyncio pool raises MaxConnectionsError at once past its default of
                    # 100 (it does not wait): a connect storm crashed consumers with 1011.
                    "max_connections": int(os.environ.get("CHANNEL_LAYER_MAX_CONNECTIONS", "2000")),
                }
                for url in os.environ.get("CHANNEL_LAYER_REDIS_URLS", REDIS_URL).split(",")
            ],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "asgi"),
        },
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
# A task a dead worker held is redelivered after visibility_timeout. kombu 5.7 sweeps for such
# tasks every unacked_restore_interval x unacked_restore_throttle seconds (10 x 10 by default), so
# the sweep is made explicit: a lost task is back in the queue within ~330 s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 300,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 3,
}
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "monitor")

AWS_S3_ENDPOINT_URL = required("S3_ENDPOINT_URL")
AWS_STORAGE_BUCKET_NAME = required("S3_BUCKET")
AWS_ACCESS_KEY_ID = required("S3_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = required("S3_SECRET_ACCESS_KEY")
AWS_S3_REGION_NAME = os.environ.get("S3_REGION", "us-east-1")
AWS_QUERYSTRING_EXPIRE = int(os.environ.get("S3_PRESIGN_SECONDS", "300"))
AWS_DEFAULT_ACL = None
AWS_S3_FILE_OVERWRITE = False
S3_SERVER_SIDE_ENCRYPTION = os.environ.get("S3_SERVER_SIDE_ENCRYPTION", "AES256") or None
_s3_options = {
    "endpoint_url": AWS_S3_ENDPOINT_URL,
    "bucket_name": AWS_STORAGE_BUCKET_NAME,
    "access_key": AWS_ACCESS_KEY_ID,
    "secret_key": AWS_SECRET_ACCESS_KEY,
    "region_name": AWS_S3_REGION_NAME,
    "querystring_expire": AWS_QUERYSTRING_EXPIRE,
    "file_overwrite": False,
    "signature_version": "s3v4",
    "addressing_style": "path",
}
STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**_s3_options, "location": "media"}},
    "evidence": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3_options, "location": "evidence"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Snapshots are written here first and acked only once durable; uploaded to S3 from here (spool).
SNAPSHOT_SPOOL_DIR = os.environ.get("SNAPSHOT_SPOOL_DIR", "/var/lib/exam-monitor/spool")
# Beat re-queues frames still unanalysed or only spooled this long after they were stored.
MEDIA_SNAPSHOT_SWEEP_AFTER_S = float(os.environ.get("MEDIA_SNAPSHOT_SWEEP_AFTER_S", "600"))

WECHAT_APP_ID = required("WECHAT_APP_ID")
WECHAT_APP_SECRET = required("WECHAT_APP_SECRET")
WECHAT_API_BASE_URL = os.environ.get("WECHAT_API_BASE_URL", "https://api.weixin.qq.com/")

ID_NUMBER_HASH_KEY = required("ID_NUMBER_HASH_KEY")
FIELD_ENCRYPTION_KEY = required("FIELD_ENCRYPTION_KEY")
EXPORT_SIGNING_KEY = required("EXPORT_SIGNING_KEY")
PUBLIC_BASE_URL = required("PUBLIC_BASE_URL")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Per-IP throttles (login, binding lockout) must key on the real client address: trust exactly as
# many X-Forwarded-For hops as there are proxies in front of daphne, never what a client sends.
# (The embedded profile trusts X-Forwarded-For so the simulator can play many candidates.)
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": int(os.environ.get("DJANGO_NUM_PROXIES", "1"))}  # noqa: F405
SECURE_SSL_REDIRECT = flag("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = flag("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
