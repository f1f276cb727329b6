"""The WeChat adapter: wechatpy aimed at settings.WECHAT_API_BASE_URL, errors mapped to stable codes.

Production points the base URL at https://api.weixin.qq.com/; the embedded profile, the demo and
the tests point it at accounts.fake_wechat. The same code path runs in both.

wechatpy 1.8 hard-codes the access-token URL and keeps the wxa base URL as a class attribute, so
(see shared/FACTS.md) the one approach that works is a subclass that overrides ``API_BASE_URL`` and
``fetch_access_token`` and sets ``client.wxa.API_BASE_URL`` on the instance.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from rest_framework import status
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

# WeChat error codes we distinguish (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/).
ERR_BUSY = -1
ERR_INVALID_CODE = 40029
ERR_RATE_LIMITED = 45011
ERR_CODE_USED = 40163


class WechatError(ApplicationError):
    code = "wechat_error"
    http_status: int = status.HTTP_502_BAD_GATEWAY
    default_message = "微信服务异常，请稍后重试 (WeChat service error, please retry)."


class WechatBusy(WechatError):
    code = "wechat_busy"
    http_status = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "微信服务繁忙，请稍后重试 (WeChat is busy, please retry)."


class WechatInvalidCode(WechatError):
    code = "wechat_invalid_code"
    http_status = status.HTTP_400_BAD_REQUEST
    default_message = "登录凭证无效，请重新登录 (invalid WeChat login code)."


class WechatCodeUsed(WechatError):
    code = "wechat_code_used"
    http_status = status.HTTP_400_BAD_REQUEST
    default_message = "登录凭证已使用，请重新登录 (WeChat login code already used)."


class WechatRateLimited(WechatError):
    code = "wechat_rate_limited"
    http_status = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = "登录过于频繁，请一分钟后再试 (too many logins, retry in a minute)."


_MAPPED: dict[int, type[WechatError]] = {
    ERR_BUSY: WechatBusy,
    ERR_INVALID_CODE: WechatInvalidCode,
    ERR_CODE_USED: WechatCodeUsed,
    ERR_RATE_LIMITED: WechatRateLimited,
}


def map_error(exc: WeChatClientException) -> WechatError:
    try:
        errcode = int(exc.errcode) if exc.errcode is not None else None
    except (TypeError, ValueError):
        errcode = None
    cls = _MAPPED.get(errcode, WechatError) if errcode is not None else WechatError
    return cls(extra={"wechat_errcode": errcode})


class BaseUrlWeChatClient(WeChatClient):
    """wechatpy's client with every URL under ``base_url`` (real WeChat or the local fake)."""

    def __init__(self, appid: str, secret: str, *, base_url: str, timeout: float = 5.0) -> None:
        super().__init__(appid, secret, timeout=timeout)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.API_BASE_URL = self.base_url + "cgi-bin/"
        self.wxa.API_BASE_URL = self.base_url

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=self.base_url + "cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


@dataclass(frozen=True)
class WechatSession:
    """What code2Session tells us. ``session_key`` must never leave the server or reach a log."""

    openid: str
    session_key: str
    unionid: str = ""

    def __repr__(self) -> str:  # keep the session key out of tracebacks and debug output
        return f"WechatSession(openid={self.openid!r}, unionid={self.unionid!r})"


_client_lock = threading.Lock()
_clients: dict[tuple[str, str, str], BaseUrlWeChatClient] = {}


def get_client() -> BaseUrlWeChatClient:
    """One client per (base URL, appid, secret): the access token is cached in its memory session."""
    key = (str(settings.WECHAT_API_BASE_URL), str(settings.WECHAT_APP_ID), str(settings.WECHAT_APP_SECRET))
    with _client_lock:
        client = _clients.get(key)
        if client is None:
            client = BaseUrlWeChatClient(key[1], key[2], base_url=key[0])
            _clients[key] = client
        return client


def reset_clients() -> None:
    """Forget cached clients and their access tokens (tests; after rotating the app secret)."""
    with _client_lock:
        _clients.clear()


def _call(fn: Any, *, what: str) -> Any:
    """Run a wechatpy call, retrying -1 (busy) with exponential backoff, mapping errors to codes."""
    attempts = int(getattr(settings, "WECHAT_BUSY_RETRIES", 3))
    delay = float(getattr(settings, "WECHAT_BUSY_BACKOFF_SECONDS", 0.2))
    for attempt in range(attempts + 1):
        try:
            return fn()
        except WeChatClientException as exc:
            error = map_error(exc)
            if isinstance(error, WechatBusy) and attempt < attempts:
                logger.warning("wechat %s busy (-1), retry %d/%d", what, attempt + 1, attempts)
                time.sleep(delay * (2**attempt))
                continue
            logger.warning("wechat %s failed: errcode=%s -> %s", what, exc.errcode, error.code)
            raise error from None
        except requests.RequestException as exc:
            logger.warning("wechat %s unreachable: %s", what, type(exc).__name__)
            raise WechatError(extra={"wechat_errcode": None}) from None
    raise AssertionError("unreachable")


def code_to_session(code: str) -> WechatSession:
    """Exchange a ``wx.login`` code (single use, 5 minutes) for the user's openid and session key."""
    client = get_client()
    result = _call(lambda: client.wxa.code_to_session(code), what="code2session")
    if not isinstance(result, dict) or not result.get("openid") or not result.get("session_key"):
        raise WechatError()
    return WechatSession(
        openid=str(result["openid"]),
        session_key=str(result["session_key"]),
        unionid=str(result.get("unionid") or ""),
    )


def get_wxa_code_unlimited(scene: str, page: str | None = None, *, width: int = 430) -> bytes:
    """A mini-program code (PNG) opening ``page`` with ``scene`` (≤ 32 visible characters)."""
    if not scene or len(scene) > 32:
        raise ApplicationError(code="wxa_scene_invalid", message="scene must be 1-32 characters")
    client = get_client()
    result = _call(
        lambda: client.wxa.get_wxa_code_unlimited(scene, width=width, page=page), what="getwxacodeunlimit"
    )
    # Success is a raw image, which wechatpy cannot decode as JSON and hands back as the response.
    content = getattr(result, "content", None)
    if not isinstance(content, bytes) or not content.startswith(b"\x89PNG"):
        raise WechatError()
    return content
