"""Foundation: health probes, schema, profile switching, required production variables, log redaction."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest
from django.test import Client

from config.logging import RedactSecretsFilter, redact
from tests import services
from tests.conftest import ROOT, is_production_profile

pytestmark = pytest.mark.django_db


def test_healthz_answers() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.integration
def test_readyz_checks_every_dependency_of_this_profile() -> None:
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "broker", "storage"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["profile"] == ("production" if is_production_profile() else "embedded")


@pytest.mark.integration
def test_production_profile_uses_real_services() -> None:
    from django.conf import settings
    from django.db import connection

    if is_production_profile():
        assert connection.vendor == "postgresql"
        layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
        assert layer == "channels_redis.pubsub.RedisPubSubChannelLayer"
        assert settings.CELERY_BROKER_URL.startswith("redis://")
        storages_setting: dict[str, Any] = settings.STORAGES
        assert storages_setting["evidence"]["BACKEND"] == "storages.backends.s3.S3Storage"
    else:
        assert connection.vendor == "sqlite"
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
        assert settings.TASKS_IN_PROCESS is True


def test_readyz_reports_a_failing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import health

    def broken() -> None:
        raise ConnectionError("down")

    monkeypatch.setitem(health.CHECKS, "storage", broken)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body: dict[str, Any] = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["storage"] == {
        "ok": False,
        "error": "ConnectionError",
        "ms": body["checks"]["storage"]["ms"],
    }
    assert body["checks"]["database"]["ok"] is True


def test_openapi_schema_is_served() -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["info"]["title"] == "Exam cloud monitor API"


def _run_check(env_overrides: Mapping[str, str | None], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "DATABASE", "REDIS", "S3_", "WECHAT", "ID_NUMBER", "FIELD_ENC", "EXPORT_", "PUBLIC_")
        )
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    for key, value in env_overrides.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


FULL_PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 60,
    "DJANGO_ALLOWED_HOSTS": "exam.example.com",
    "DATABASE_URL": "postgres://u@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    "S3_BUCKET": "b",
    "S3_ACCESS_KEY_ID": "k",
    "S3_SECRET_ACCESS_KEY": "s",
    "WECHAT_APP_ID": "wx1",
    "WECHAT_APP_SECRET": "sec",
    "ID_NUMBER_HASH_KEY": "h",
    "FIELD_ENCRYPTION_KEY": "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
    "EXPORT_SIGNING_KEY": "e",
    "PUBLIC_BASE_URL": "https://exam.example.com",
}


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "S3_BUCKET", "WECHAT_APP_SECRET"]
)
def test_production_refuses_to_start_without_a_required_variable(missing: str) -> None:
    env = {**FULL_PRODUCTION_ENV, missing: None}
    result = _run_check(env)
    assert result.returncode != 0
    assert f"Missing required environment variable {missing}" in result.stderr


def test_production_starts_with_every_required_variable() -> None:
    result = _run_check(FULL_PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /ws/phone?ticket=abcDEF123456789xyz HTTP/1.1", "abcDEF123456789xyz"),
        ("candidate 32010219900101123X bound", "32010219900101123X"),
        ('{"session_key": "tiihtNczf5v6AKRyjwEUhQ=="}', "tiihtNczf5v6AKRyjwEUhQ=="),
        ("https://s3/x.jpg?X-Amz-Signature=deadbeefcafe&X-Amz-Credential=K%2F2026", "deadbeefcafe"),
        ("Authorization: Bearer 0123456789abcdefABCDEF", "0123456789abcdefABCDEF"),
    ],
)
def test_log_redaction_removes_secrets(line: str, secret: str) -> None:
    assert secret not in redact(line)


def test_redaction_filter_applies_to_formatted_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redaction")
    logger.addFilter(RedactSecretsFilter())
    with caplog.at_level(logging.INFO, logger="tests.redaction"):
        logger.info("issued token=%s for %s", "s3cr3tT0kenValue", "110101199003074477")
    assert "s3cr3tT0kenValue" not in caplog.text
    assert "110101199003074477" not in caplog.text
    assert "[redacted]" in caplog.text


@pytest.mark.integration
def test_daphne_serves_health_and_schema(live_server_process: services.Process) -> None:
    base = live_server_process.extra["url"]
    with urllib.request.urlopen(base + "/healthz") as response:
        assert json.loads(response.read()) == {"status": "ok"}
    with urllib.request.urlopen(base + "/readyz") as response:
        body = json.loads(response.read())
    assert body["status"] == "ok", body
    with urllib.request.urlopen(base + "/api/schema/") as response:
        assert response.status == 200


@pytest.mark.production_only
def test_a_real_celery_worker_runs_a_task_from_the_redis_broker(
    celery_worker_process: services.Process,
) -> None:
    import time
    import uuid

    from django.core.cache import cache

    from config.taskqueue import enqueue
    from config.tasks import probe

    key = f"probe-{uuid.uuid4().hex}"
    enqueue(probe, key)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and cache.get(key) is None:
        time.sleep(0.1)
    assert cache.get(key) == "done", celery_worker_process.log_tail()
    assert "config.probe" in celery_worker_process.log_path.read_text()


@pytest.mark.integration
async def test_channel_layer_receive_survives_a_quiet_channel() -> None:
    """A consumer's receive blocks while nothing is sent. With redis-py 8's default 5 s socket
    timeout that raised TimeoutError inside channels_redis and crashed the consumer."""
    import asyncio

    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(6.5)
    assert not receiving.done(), receiving.exception() if receiving.done() else None
    await layer.send(channel, {"type": "late.message"})
    message = await asyncio.wait_for(receiving, timeout=5)
    assert message == {"type": "late.message"}


def test_daphne_message_limit_fits_the_largest_snapshot_frame() -> None:
    from django.conf import settings

    from monitor import protocol

    largest_frame = int(settings.SNAPSHOT_MAX_BYTES) + 4 + protocol.MAX_SNAPSHOT_HEADER_BYTES
    assert largest_frame < services.WS_MAX_MESSAGE_BYTES
    assert "--websocket-max-message-size" in services.daphne_command(8000)


@pytest.mark.parametrize(
    ("argv", "serving"),
    [
        (["/venv/bin/daphne", "config.asgi:application"], True),
        (["/srv/app/config/serve.py", "-p", "8000", "config.asgi:application"], True),
        (["/venv/bin/uvicorn", "config.asgi:application"], True),
        (["manage.py", "runserver"], True),
        (["manage.py", "migrate"], False),
        (["/venv/bin/celery", "-A", "config", "worker"], False),
        (["/venv/bin/pytest"], False),
    ],
)
def test_only_serving_processes_run_the_embedded_scheduler(argv: list[str], serving: bool) -> None:
    from exams.apps import is_serving_process

    assert is_serving_process(argv) is serving
