"""Embedded profile: the in-process scheduler of a real daphne server runs the token expiry sweep,
so a desktop socket whose login expired is closed with 4005 (production: Celery beat does it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import AuthToken
from exams.models import Attempt
from monitor import protocol as p
from tests import services
from tests.conftest import is_production_profile
from tests.monitor import factories as f
from tests.monitor.conftest import start_server
from tests.monitor.test_realtime import Api

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(is_production_profile(), reason="production runs the sweep from Celery beat"),
]


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[services.Process]:
    proc = start_server({**server_env, "ACCOUNTS_TOKEN_SWEEP_SECONDS": "0.5"}, tmp_path)
    yield proc
    proc.stop()


def test_an_expired_login_closes_its_open_desktop_socket(server: services.Process) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    other = f.sitting(session, 2)
    api = Api(server)
    desktop = api.desktop(s)
    other_desktop = api.desktop(other)
    desktop.until("status")

    # The login runs out while the socket is open: no request arrives to notice it.
    AuthToken.objects.filter(pk=s.desktop_token_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert desktop.closed_with(timeout=10) == p.CloseCode.TOKEN_REVOKED
    assert AuthToken.objects.get(pk=s.desktop_token_id).revoked_at is not None
    # The other candidate's login is still valid: its socket stays open.
    other_desktop.send({"type": "heartbeat"})
    assert other_desktop.until("heartbeat_ack")["type"] == "heartbeat_ack"
    assert Attempt.objects.get(pk=other.attempt.pk).status == "in_progress"
    other_desktop.close()
