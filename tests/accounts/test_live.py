"""A real daphne server (child process) logging in through the fake WeChat server it was pointed at."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from accounts.models import AuthToken, WechatIdentity


def post(url: str, payload: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            return response.status, json.loads(body) if body else {}
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_live_server_logs_in_through_fake_wechat_and_logout_ends_it(
    live_server_process: Any, fake_wechat: Any
) -> None:
    base = f"http://127.0.0.1:{live_server_process.port}/api/v1"
    status, body = post(base + "/auth/wechat-login", {"code": fake_wechat.app.mint_code("live")})
    assert status == 200, body
    assert fake_wechat.app.count("sns/jscode2session") == 1  # the child used the fixture's server
    assert WechatIdentity.objects.count() == 1
    status, _ = post(base + "/auth/logout", {}, token=body["token"])
    assert status == 204
    assert AuthToken.objects.get().revoked_at is not None
    status, error = post(base + "/auth/logout", {}, token=body["token"])
    assert (status, error["code"]) == (401, "token_revoked")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_logout_closes_the_open_desktop_websocket(live_server_process: Any) -> None:
    """Revocation ends the session on REST and on an already open WebSocket (close code 4005)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    from websockets.typing import Origin

    from tests.accounts.factories import candidate, id_number, register, session, ticket

    register(candidate(1), session())
    base = f"http://127.0.0.1:{live_server_process.port}"
    status, login = post(
        base + "/api/v1/auth/desktop-login", {"ticket_number": ticket(1), "id_number": id_number(1)}
    )
    assert status == 200, login
    status, issued = post(base + "/api/v1/ws-tickets", {"role": "desktop"}, token=login["token"])
    assert status == 201, issued
    ws_url = f"ws://127.0.0.1:{live_server_process.port}/ws/desktop/?ticket={issued['ticket']}"
    with connect(ws_url, origin=Origin(base), open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "version": 1}))
        while json.loads(ws.recv(timeout=10))["type"] != "hello_ok":
            pass
        status, _ = post(base + "/api/v1/auth/logout", {}, token=login["token"])
        assert status == 204
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4005  # CloseCode.TOKEN_REVOKED
    status, error = post(base + "/api/v1/ws-tickets", {"role": "desktop"}, token=login["token"])
    assert (status, error["code"]) == (401, "token_revoked")
