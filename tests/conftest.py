"""Fixtures for real services and real processes. See tests/harness.py for the two passes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests import services

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def is_production_profile() -> bool:
    return not getattr(settings, "TASKS_IN_PROCESS", False)


@pytest.fixture
def artifacts_dir() -> Path:
    """Screenshots and reports a test leaves for people to look at (not committed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def child_env() -> dict[str, str]:
    """Environment for a child process (daphne, Celery worker) that shares the test database."""
    db = connection.settings_dict
    env = dict(os.environ)
    if is_production_profile():
        user = db.get("USER") or "postgres"
        env["DATABASE_URL"] = (
            f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
        env.pop("DATABASE_TEST_NAME", None)
    else:
        env["DJANGO_SETTINGS_MODULE"] = "config.settings.embedded"
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
        env["DJANGO_DEBUG"] = "0"
    env["MONITOR_DATA_DIR"] = str(settings.DATA_DIR)
    # Set for the test process while Playwright runs (see ``chromium``); never for a server under test.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env["WECHAT_API_BASE_URL"] = settings.WECHAT_API_BASE_URL
    return env


@pytest.fixture
def server_env(transactional_db: Any, tmp_path: Path) -> dict[str, str]:
    """Environment for a child process (daphne, Celery worker) that shares this test's database."""
    return child_env()


@pytest.fixture
def live_server_process(server_env: dict[str, str], tmp_path: Path) -> Iterator[services.Process]:
    """A real daphne server on a free port, on this profile's channel layer and database."""
    proc = services.start_daphne(server_env, log_dir=tmp_path)
    yield proc
    proc.stop()


@pytest.fixture
def celery_worker_process(server_env: dict[str, str], tmp_path: Path) -> Iterator[services.Process]:
    """A real Celery worker process on the Redis broker (production profile only)."""
    if not is_production_profile():
        pytest.fail("celery_worker_process needs the production profile; mark the test production_only")
    proc = services.start_celery_worker(server_env, log_dir=tmp_path)
    yield proc
    proc.stop()


CHROMIUM_EXECUTABLE = "/usr/bin/chromium"
# Debian's Chromium under Playwright (FACTS.md); tests that launch a browser of their own (e.g. with
# a fake camera) start from these too.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Module scope: Playwright's sync API runs an event loop in the test thread while it is open, so
# later tests of other modules that call asyncio.run() would fail if the browser outlived its module.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (its own browser download is impossible here)."""
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM_EXECUTABLE
    if not os.path.exists(executable):
        pytest.fail("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    # Playwright's sync API keeps an event loop running in the test thread for the rest of the session;
    # tests' own ORM calls (and the test database teardown) are plain synchronous code, so Django's
    # async-safety check would refuse them. Child servers never inherit this (see ``server_env``).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``production_only`` tests need Redis, a Celery worker and S3: the harness runs them in pass 2.
    Run on their own in the embedded profile they are skipped with that reason, never silently."""
    if is_production_profile():
        return
    skip = pytest.mark.skip(reason="production profile only: run `python -m tests.harness --pass production`")
    for item in items:
        if "production_only" in item.keywords:
            item.add_marker(skip)


# --- accounts: the local fake WeChat server ------------------------------------------------------


@pytest.fixture(scope="session")
def _fake_wechat_server() -> Iterator[Any]:
    from accounts.fake_wechat import FakeWechatServer

    server = FakeWechatServer(appid=settings.WECHAT_APP_ID, secret=settings.WECHAT_APP_SECRET)
    server.start_in_thread()
    yield server
    server.stop()


@pytest.fixture
def fake_wechat(_fake_wechat_server: Any, settings: Any) -> Iterator[Any]:
    """The fake WeChat API (accounts.fake_wechat) on a free port, fresh state per test.

    settings.WECHAT_API_BASE_URL points at it, and so does ``server_env`` (children such as a live
    daphne server): the pytest_itemcollected hook below sets this fixture up before server_env.
    Use ``fake_wechat.app.mint_code("alice")`` for a wx.login code, ``.app.advance(s)`` for time.
    """
    from accounts import wechat

    _fake_wechat_server.app.reset()
    wechat.reset_clients()  # the fake forgot its access tokens; so must the client
    settings.WECHAT_API_BASE_URL = _fake_wechat_server.base_url
    settings.WECHAT_BUSY_BACKOFF_SECONDS = 0.01  # the retry schedule is tested, not its duration
    yield _fake_wechat_server
    _fake_wechat_server.app.reset()


@pytest.hookimpl(trylast=True)
def pytest_itemcollected(item: pytest.Item) -> None:
    # server_env copies settings.WECHAT_API_BASE_URL when it is created: set up fake_wechat first.
    names = getattr(item, "fixturenames", None)
    if isinstance(names, list) and "fake_wechat" in names:
        names.remove("fake_wechat")
        names.insert(0, "fake_wechat")
