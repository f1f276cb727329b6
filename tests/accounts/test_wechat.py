"""accounts.wechat (wechatpy) against the local fake WeChat server: success and every mapped error."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from accounts import wechat
from accounts.fake_wechat import openid_for, unionid_for


def test_code_to_session_returns_deterministic_openid(fake_wechat: Any, settings: Any) -> None:
    first = wechat.code_to_session(fake_wechat.app.mint_code("alice"))
    again = wechat.code_to_session(fake_wechat.app.mint_code("alice"))
    other = wechat.code_to_session("user-bob-123")
    assert first.openid == again.openid == openid_for(settings.WECHAT_APP_ID, "alice")
    assert first.unionid == unionid_for("alice")
    assert other.openid == openid_for(settings.WECHAT_APP_ID, "bob")
    assert first.session_key != again.session_key  # WeChat hands out a new session key per login
    assert first.session_key not in repr(first)


def test_client_talks_only_to_the_configured_base_url(fake_wechat: Any) -> None:
    client = wechat.get_client()
    base_url = fake_wechat.base_url
    urls = {"client": client.API_BASE_URL, "wxa": client.wxa.API_BASE_URL}
    assert urls == {"client": base_url + "cgi-bin/", "wxa": base_url}
    wechat.code_to_session("user-carol-1")
    assert fake_wechat.app.count("cgi-bin/token") == 1
    assert fake_wechat.app.count("sns/jscode2session") == 1


def test_reused_code_maps_to_wechat_code_used(fake_wechat: Any) -> None:
    code = fake_wechat.app.mint_code("dave")
    wechat.code_to_session(code)
    with pytest.raises(wechat.WechatCodeUsed) as err:
        wechat.code_to_session(code)
    assert err.value.code == "wechat_code_used"
    assert err.value.extra == {"wechat_errcode": 40163}


def test_unknown_code_maps_to_wechat_invalid_code(fake_wechat: Any) -> None:
    with pytest.raises(wechat.WechatInvalidCode) as err:
        wechat.code_to_session("not-a-wechat-code")
    assert (err.value.code, err.value.http_status) == ("wechat_invalid_code", 400)


def test_code_older_than_five_minutes_is_invalid(fake_wechat: Any) -> None:
    code = fake_wechat.app.mint_code("erin")
    fake_wechat.app.advance(301)
    with pytest.raises(wechat.WechatInvalidCode):
        wechat.code_to_session(code)


def test_busy_is_retried_with_backoff_then_succeeds(fake_wechat: Any) -> None:
    session = wechat.code_to_session("busy2-user-frank-1")
    assert session.openid == openid_for(fake_wechat.app.state.appid, "frank")
    assert fake_wechat.app.count("sns/jscode2session") == 3  # two -1 answers, then success


def test_busy_forever_maps_to_wechat_busy_after_retries(fake_wechat: Any, settings: Any) -> None:
    settings.WECHAT_BUSY_RETRIES = 2
    with pytest.raises(wechat.WechatBusy) as err:
        wechat.code_to_session("busy-user-gina-1")
    assert (err.value.code, err.value.http_status) == ("wechat_busy", 503)
    assert fake_wechat.app.count("sns/jscode2session") == 3  # first try + 2 retries


def test_rate_limit_after_100_calls_per_minute_per_user(fake_wechat: Any) -> None:
    for i in range(100):
        wechat.code_to_session(f"user-hank-{i}")
    with pytest.raises(wechat.WechatRateLimited) as err:
        wechat.code_to_session("user-hank-100")
    assert (err.value.code, err.value.http_status) == ("wechat_rate_limited", 429)
    # Per user: someone else is not limited; and the limit lifts after a minute.
    assert wechat.code_to_session("user-ivy-1").openid
    fake_wechat.app.advance(61)
    assert wechat.code_to_session("user-hank-101").openid


def test_other_errors_map_to_wechat_error(fake_wechat: Any) -> None:
    with pytest.raises(wechat.WechatError) as err:
        wechat.code_to_session("error40226-user-jack-1")  # 40226: high-risk user
    assert type(err.value) is wechat.WechatError
    assert err.value.code == "wechat_error"
    assert err.value.extra == {"wechat_errcode": 40226}


def test_wrong_secret_is_a_wechat_error(fake_wechat: Any, settings: Any) -> None:
    settings.WECHAT_APP_SECRET = "wrong"
    with pytest.raises(wechat.WechatError) as err:
        wechat.code_to_session("user-kim-1")
    assert err.value.extra == {"wechat_errcode": 40125}


def test_unreachable_wechat_is_a_wechat_error(settings: Any) -> None:
    settings.WECHAT_API_BASE_URL = "http://127.0.0.1:1/"
    with pytest.raises(wechat.WechatError) as err:
        wechat.code_to_session("user-lee-1")
    assert err.value.code == "wechat_error"


def test_wxa_code_is_a_real_png(fake_wechat: Any) -> None:
    png = wechat.get_wxa_code_unlimited("p=Ab3dEf9", page="pages/pair/pair")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size[0] == image.size[1] > 100


def test_wxa_code_refetches_an_expired_access_token(fake_wechat: Any) -> None:
    wechat.get_wxa_code_unlimited("s=1")
    fake_wechat.app.advance(7201)  # the fake's token expired; wechatpy still believes its cache
    wechat.get_client().expires_at = None  # as if the token had been handed in from elsewhere
    assert wechat.get_wxa_code_unlimited("s=2").startswith(b"\x89PNG")
    assert fake_wechat.app.count("cgi-bin/token") == 2


def test_wxa_scene_too_long_is_refused_before_calling(fake_wechat: Any) -> None:
    with pytest.raises(wechat.ApplicationError) as err:
        wechat.get_wxa_code_unlimited("x" * 33)
    assert err.value.code == "wxa_scene_invalid"
    assert fake_wechat.app.count("wxa/getwxacodeunlimit") == 0


def test_run_fake_wechat_command_serves_the_same_api(settings: Any, tmp_path: Any) -> None:
    """`manage.py run_fake_wechat --port P` as a real process; a phone simulator mints codes over HTTP."""
    import json
    import os
    import sys
    import urllib.request

    from tests import services

    port = services.free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.embedded"}
    proc = services.spawn(
        "fake-wechat",
        [sys.executable, "manage.py", "run_fake_wechat", "--port", str(port)],
        env=env,
        log_dir=tmp_path,
    )
    try:
        services.wait_for_port(port, proc=proc.popen)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/wx-login?user=sim1", timeout=5) as r:
            code = json.loads(r.read())["code"]
        settings.WECHAT_API_BASE_URL = f"http://127.0.0.1:{port}/"
        settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx-fake-appid", "fake-secret"
        wechat.reset_clients()
        assert wechat.code_to_session(code).openid == openid_for("wx-fake-appid", "sim1")
    finally:
        proc.stop()
        wechat.reset_clients()
