"""A local fake of the WeChat server API we call, with WeChat's response shapes and error codes.

Used by the embedded profile (`make run`), the demo, the simulators and the tests; production talks
to https://api.weixin.qq.com/ through the same client (accounts.wechat). Endpoints:

- ``GET cgi-bin/token?grant_type=client_credential&appid=&secret=`` → ``{access_token, expires_in}``;
  wrong appid 40013, wrong secret 40125.
- ``GET sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`` →
  ``{openid, session_key, unionid}``. Codes are single use (40163 on reuse) and valid 5 minutes
  (40029 afterwards, as WeChat does). 45011 after 100 calls per minute per user.
- ``POST wxa/getwxacodeunlimit?access_token=`` ``{scene, page, width}`` → a real PNG (segno) whose
  QR payload carries the scene; bad/expired access token 40001/42001, scene > 32 chars 40169.
- ``GET|POST _fake/wx-login?user=<name>`` → ``{"code": ...}``: what ``wx.login()`` gives a phone
  (a test helper; real WeChat has no such endpoint).

Codes (what ``wx.login`` would return):
- ``user-<name>-<nonce>``: logs in as the WeChat user ``<name>``; the openid is derived from the
  name and the appid, so a simulator can log in as the same person again with a fresh code.
- ``busy<k>-<rest>``: the first ``k`` exchanges answer -1 (system busy), then ``<rest>`` is used;
  ``busy-<rest>`` is busy forever (tests the retry with backoff).
- ``error<errcode>-<rest>``: answers that WeChat error (tests the generic mapping).
- anything else: 40029 invalid code.
Codes minted by ``_fake/wx-login`` carry their issue time; hand-made codes count from first use.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import segno

CODE_TTL_SECONDS = 300
ACCESS_TOKEN_TTL_SECONDS = 7200
RATE_LIMIT_PER_MINUTE = 100

_USER_CODE = re.compile(r"^user-([A-Za-z0-9_.]{1,40})-([A-Za-z0-9_]{1,64})$")
_BUSY_CODE = re.compile(r"^busy(\d*)-(.+)$")
_ERROR_CODE = re.compile(r"^error(-?\d+)-(.+)$")

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
    40169: "invalid length for scene, or the data is not json string",
    41030: "invalid page",
    42001: "access_token expired",
    44002: "empty post data",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
}


@dataclass
class FakeWechatState:
    """Everything the fake remembers; one lock guards it (the server is threaded)."""

    appid: str
    secret: str
    offset: float = 0.0  # tests move the fake's clock forward with advance()
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    minted: dict[str, float] = field(default_factory=dict)  # code -> issued at
    first_seen: dict[str, float] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    busy_left: dict[str, int] = field(default_factory=dict)
    calls: dict[str, deque[float]] = field(default_factory=dict)  # user name -> call times
    counters: dict[str, int] = field(default_factory=dict)  # endpoint -> calls (for tests)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.time() + self.offset


def openid_for(appid: str, name: str) -> str:
    """Deterministic per (appid, user): like WeChat, one user has one openid per mini-program."""
    digest = hashlib.sha256(f"openid:{appid}:{name}".encode()).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def unionid_for(name: str) -> str:
    digest = hashlib.sha256(f"unionid:{name}".encode()).digest()
    return "u" + base64.urlsafe_b64encode(digest).decode()[:27]


def _err(errcode: int) -> tuple[int, dict[str, Any]]:
    return 200, {"errcode": errcode, "errmsg": f"{ERRMSG.get(errcode, 'error')} rid: {secrets.token_hex(6)}"}


class FakeWechatApp:
    """The request logic, independent of the HTTP plumbing (unit-testable)."""

    def __init__(self, *, appid: str, secret: str) -> None:
        self.state = FakeWechatState(appid=appid, secret=secret)

    # --- helpers for tests and the demo ------------------------------------------------------
    def advance(self, seconds: float) -> None:
        with self.state.lock:
            self.state.offset += seconds

    def mint_code(self, user: str) -> str:
        code = f"user-{user}-{secrets.token_hex(8)}"
        with self.state.lock:
            self.state.minted[code] = self.state.now()
        return code

    def reset(self) -> None:
        with self.state.lock:
            appid, secret = self.state.appid, self.state.secret
            self.state = FakeWechatState(appid=appid, secret=secret)

    def count(self, endpoint: str) -> int:
        with self.state.lock:
            return self.state.counters.get(endpoint, 0)

    # --- endpoints ---------------------------------------------------------------------------
    def token(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        st = self.state
        if params.get("grant_type") != "client_credential":
            return _err(40002 if params.get("grant_type") else 41002)
        if params.get("appid") != st.appid:
            return _err(40013)
        if params.get("secret") != st.secret:
            return _err(40125)
        token = secrets.token_urlsafe(48)
        st.access_tokens[token] = st.now() + ACCESS_TOKEN_TTL_SECONDS
        return 200, {"access_token": token, "expires_in": ACCESS_TOKEN_TTL_SECONDS}

    def jscode2session(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        st = self.state
        if params.get("appid") != st.appid:
            return _err(40013)
        if params.get("secret") != st.secret:
            return _err(40125)
        code = params.get("js_code", "")
        busy = _BUSY_CODE.match(code)
        if busy:
            if not busy.group(1):
                return _err(-1)
            left = st.busy_left.setdefault(code, int(busy.group(1)))
            if left > 0:
                st.busy_left[code] = left - 1
                return _err(-1)
            inner = busy.group(2)
        else:
            inner = code
        error = _ERROR_CODE.match(inner)
        if error:
            return _err(int(error.group(1)))
        user = _USER_CODE.match(inner)
        if not user:
            return _err(40029)
        now = st.now()
        issued = st.minted.get(code) or st.first_seen.setdefault(code, now)
        if now - issued > CODE_TTL_SECONDS:
            return _err(40029)  # WeChat answers an expired code as an invalid one
        name = user.group(1)
        window = st.calls.setdefault(name, deque())
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= RATE_LIMIT_PER_MINUTE:
            return _err(45011)
        window.append(now)
        if code in st.used:
            return _err(40163)
        st.used.add(code)
        return 200, {
            "openid": openid_for(st.appid, name),
            "session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
            "unionid": unionid_for(name),
        }

    def check_access_token(self, params: dict[str, str]) -> int:
        expires = self.state.access_tokens.get(params.get("access_token", ""))
        if expires is None:
            return 40001
        if expires <= self.state.now():
            return 42001
        return 0

    def getwxacodeunlimit(self, params: dict[str, str], body: bytes) -> tuple[int, dict[str, Any] | bytes]:
        bad = self.check_access_token(params)
        if bad:
            return _err(bad)
        if not body:
            return _err(44002)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _err(47001)
        if not isinstance(data, dict):
            return _err(47001)
        scene = data.get("scene")
        if not isinstance(scene, str) or not 1 <= len(scene) <= 32 or not scene.isprintable():
            return _err(40169)
        page = data.get("page") or "pages/index/index"
        if not isinstance(page, str) or page.startswith("/"):
            return _err(41030)
        width = data.get("width", 430)
        scale = max(1, min(int(width) if isinstance(width, int) else 430, 1280) // 45)
        out = io.BytesIO()
        segno.make(f"wxa:{self.state.appid}:{page}?scene={scene}", error="m").save(
            out, kind="png", scale=scale, border=2
        )
        return 200, out.getvalue()

    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, Any] | bytes]:
        url = urlparse(raw_path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.strip("/")
        with self.state.lock:
            self.state.counters[path] = self.state.counters.get(path, 0) + 1
            if path == "cgi-bin/token" and method == "GET":
                return self.token(params)
            if path == "sns/jscode2session" and method == "GET":
                return self.jscode2session(params)
            if path == "wxa/getwxacodeunlimit" and method == "POST":
                return self.getwxacodeunlimit(params, body)
        if path == "_fake/wx-login":
            if method == "POST" and body:
                try:
                    params.update(json.loads(body.decode("utf-8")))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    return 400, {"errcode": 47001, "errmsg": ERRMSG[47001]}
            name = str(params.get("user", ""))
            if not re.fullmatch(r"[A-Za-z0-9_.]{1,40}", name):
                return 400, {"errcode": 47001, "errmsg": "user must be 1-40 of [A-Za-z0-9_.]"}
            return 200, {"code": self.mint_code(name)}
        return 404, {"errcode": 404, "errmsg": "not found"}


class _Handler(BaseHTTPRequestHandler):
    server: FakeWechatServer
    protocol_version = "HTTP/1.1"

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.server.app.handle(self.command, self.path, body)
        if isinstance(payload, bytes):
            data, ctype = payload, "image/png"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json; encoding=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _respond
    do_POST = _respond

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Request lines carry codes, secrets and access tokens: log nothing.
        return


class FakeWechatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, appid: str, secret: str) -> None:
        super().__init__((host, port), _Handler)
        self.app = FakeWechatApp(appid=appid, secret=secret)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="fake-wechat", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def start(
    *, appid: str, secret: str, port: int = 0, on_ready: Callable[[str], None] | None = None
) -> FakeWechatServer:
    server = FakeWechatServer(port=port, appid=appid, secret=secret)
    server.start_in_thread()
    if on_ready:
        on_ready(server.base_url)
    return server
