"""The bad-input catalogue, over the wire against a real daphne server (both passes).

Each case: given a paired, connected phone (or desktop, or proctor), when the bad input arrives,
then the client gets its defined error code (or close code) and nothing changed: the same row
counts, attempt statuses and evidence objects (local files or the S3 bucket, plus the spool).
What tests/monitor, tests/media_pipeline and tests/accounts already check through the service
functions is not repeated here; this file checks the same refusals end to end, and the rest.
"""

from __future__ import annotations

import json
import struct
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.utils import timezone
from websockets.exceptions import InvalidStatus

from accounts.models import AuthToken
from media_pipeline.models import Snapshot
from monitor import protocol as p
from monitor import services as monitor_services
from monitor.models import WsTicket
from tests import services
from tests.media_pipeline import images
from tests.monitor import factories as f
from tests.monitor.test_realtime import jpeg
from tests.monitor.wsclient import WS
from tests.reliability.conftest import CallerApi, census

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

AUDIO = {"type": "audio", "seq": 1, "interval_ms": 100, "levels": [-40.0]}


@pytest.fixture
def api(module_server: services.Process) -> CallerApi:
    return CallerApi(module_server)


@pytest.fixture
def sitting() -> f.Sitting:
    return f.sitting(f.running_session(), 1)


def phone_socket(api: CallerApi, s: f.Sitting) -> WS:
    ws, hello = api.phone(s, api.pair(s)["ws_url"])
    assert hello["resume_from"] == 0
    return ws


def still_open(ws: WS) -> None:
    ws.send({"type": "heartbeat"})
    assert ws.until("heartbeat_ack")["type"] == "heartbeat_ack"


# --- phone text frames ------------------------------------------------------------------------------

PHONE_TEXT = [
    ("json_array", "[]", "malformed"),
    ("json_number", "42", "malformed"),
    ("json_null", "null", "malformed"),
    ("json_string", '"audio"', "malformed"),
    ("truncated_json", '{"type": "audio", "seq": 1', "malformed"),
    ("no_type", {"seq": 1}, "unknown_type"),
    ("type_not_a_string", {"type": ["audio"]}, "unknown_type"),
    ("desktop_message_on_phone", {"type": "focus", "state": "lost"}, "unknown_type"),
    ("proctor_command_on_phone", {"type": "disqualify", "attempt_id": 1}, "unknown_type"),
    ("unknown_field", {**AUDIO, "extra": 1}, "invalid"),
    ("unknown_nested_field", {"type": "hello", "version": 1, "device": {"imei": "86"}}, "invalid"),
    ("seq_as_string", {**AUDIO, "seq": "1"}, "invalid"),
    ("seq_as_bool", {**AUDIO, "seq": True}, "invalid"),
    ("seq_as_float", {**AUDIO, "seq": 1.5}, "invalid"),
    ("seq_zero", {**AUDIO, "seq": 0}, "invalid"),
    ("seq_above_int32", {**AUDIO, "seq": 2**31}, "invalid"),
    ("level_as_string", {**AUDIO, "levels": ["-40"]}, "invalid"),
    ("level_positive", {**AUDIO, "levels": [3.0]}, "invalid"),
    ("levels_empty", {**AUDIO, "levels": []}, "invalid"),
    ("levels_too_many", {**AUDIO, "levels": [-40.0] * 601}, "invalid"),
    ("interval_too_short", {**AUDIO, "interval_ms": 1}, "invalid"),
    ("started_at_not_a_time", {**AUDIO, "started_at": "yesterday"}, "invalid"),
    ("charging_as_string", {"type": "heartbeat", "charging": "yes"}, "invalid"),
    ("battery_out_of_range", {"type": "heartbeat", "battery": 101}, "invalid"),
    ("second_hello", {"type": "hello", "version": 1}, "invalid"),
    ("command_ack_empty_id", {"type": "command_ack", "command_id": ""}, "invalid"),
]


@pytest.mark.parametrize(("name", "message", "code"), PHONE_TEXT, ids=[c[0] for c in PHONE_TEXT])
def test_phone_text_messages_are_refused_with_their_code_and_change_nothing(
    api: CallerApi, sitting: f.Sitting, name: str, message: Any, code: str
) -> None:
    ws = phone_socket(api, sitting)
    before = census()

    ws.send(message if isinstance(message, dict | str) else json.dumps(message))

    error = ws.until("error")
    assert error["code"] == code, error
    still_open(ws)
    assert census() == before
    ws.close()


# --- phone binary frames (snapshots) ----------------------------------------------------------------


def header_frame(header: bytes, body: bytes = b"\xff\xd8\xff") -> bytes:
    return struct.pack("!I", len(header)) + header + body


SNAPSHOT_FRAMES = [
    ("shorter_than_prefix", lambda: b"\x00\x01", "malformed", None),
    ("zero_header_length", lambda: struct.pack("!I", 0) + b"x" * 10, "malformed", None),
    ("header_length_past_the_end", lambda: struct.pack("!I", 500) + b"{}", "malformed", None),
    ("header_above_1kb", lambda: struct.pack("!I", 2000) + b" " * 2100, "malformed", None),
    ("header_not_json", lambda: header_frame(b"snapshot 1"), "malformed", None),
    ("header_not_an_object", lambda: header_frame(b"[1]"), "malformed", None),
    ("header_unknown_field", lambda: header_frame(b'{"type":"snapshot","seq":4,"gps":"x"}'), "invalid", 4),
    ("header_seq_as_string", lambda: header_frame(b'{"type":"snapshot","seq":"4"}'), "invalid", None),
    ("header_wrong_type", lambda: header_frame(b'{"type":"audio","seq":4}'), "invalid", 4),
    ("no_image_bytes", lambda: header_frame(b'{"type":"snapshot","seq":4}', b""), "invalid", 4),
    ("not_an_image", lambda: p.build_snapshot_frame(seq=4, data=b"%PDF-1.4" * 100), "image_not_supported", 4),
    (
        "truncated_jpeg",
        lambda: p.build_snapshot_frame(seq=4, data=images.photo_jpeg("astronaut")[:5000]),
        "image_corrupt",
        4,
    ),
    ("decompression_bomb", lambda: p.build_snapshot_frame(seq=4, data=images.png_bomb()), "image_bomb", 4),
    (
        "huge_dimensions_in_header",
        lambda: p.build_snapshot_frame(seq=4, data=images.png_bomb(100_000, 100_000, rows_in_body=1)),
        "image_bomb",
        4,
    ),
    (
        "too_wide",
        lambda: p.build_snapshot_frame(seq=4, data=images.png_of_size(5000, 40)),
        "image_dimensions",
        4,
    ),
    (
        "above_the_byte_limit",
        lambda: p.build_snapshot_frame(seq=4, data=b"\xff\xd8\xff" + b"\x00" * (1024 * 1024)),
        "frame_too_large",
        4,
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "code", "seq"), SNAPSHOT_FRAMES, ids=[c[0] for c in SNAPSHOT_FRAMES]
)
def test_bad_snapshot_frames_are_refused_and_store_nothing(
    api: CallerApi, sitting: f.Sitting, name: str, make: Any, code: str, seq: int | None
) -> None:
    ws = phone_socket(api, sitting)
    before = census()

    ws.send(make())

    error = ws.until("error", timeout=20)
    assert (error["code"], error.get("seq")) == (code, seq), error
    still_open(ws)
    assert census() == before
    assert Snapshot.objects.count() == 0
    ws.close()


def test_binary_before_hello_closes_4007_and_binary_is_refused_on_browser_routes(
    api: CallerApi, sitting: f.Sitting
) -> None:
    claim = api.pair(sitting)
    before = census()
    early = WS(claim["ws_url"], keepalive=None)
    early.send(p.build_snapshot_frame(seq=1, data=jpeg(1)))
    assert early.until("error")["code"] == "hello_required"
    assert early.closed_with() == p.CloseCode.HELLO_REQUIRED

    desktop = api.desktop(sitting)
    desktop.send(p.build_snapshot_frame(seq=1, data=jpeg(1)))
    assert desktop.until("error")["code"] == "binary_not_allowed"
    assert census() == before
    desktop.close()


def test_an_unsupported_version_closes_4002(api: CallerApi, sitting: f.Sitting) -> None:
    ws = WS(api.pair(sitting)["ws_url"], keepalive=None)
    ws.send({"type": "hello", "version": 2})
    assert ws.until("error")["code"] == "unsupported_version"
    assert ws.closed_with() == p.CloseCode.UNSUPPORTED_VERSION


# --- budgets and floods -------------------------------------------------------------------------------


def test_twenty_invalid_messages_close_the_socket_4000(api: CallerApi, sitting: f.Sitting) -> None:
    ws = phone_socket(api, sitting)
    before = census()
    for i in range(20):
        ws.send({**AUDIO, "seq": i + 1, "bogus": True})
    codes = [ws.until("error")["code"] for _ in range(20)]
    assert codes == ["invalid"] * 20
    assert ws.closed_with() == p.CloseCode.PROTOCOL_ERROR
    assert census() == before


def test_a_flood_over_the_rate_limit_is_dropped_then_closed_4008(api: CallerApi, sitting: f.Sitting) -> None:
    """Burst 40, then 10/s: a tight loop of audio batches gets the first ~40 stored and acked, the
    rest refused with ``rate_limited`` and not stored; 50 drops close the socket."""
    ws = phone_socket(api, sitting)
    from media_pipeline.models import AudioBatch

    for seq in range(1, 151):
        ws.send({**AUDIO, "seq": seq})
    acked: list[int] = []
    limited = 0
    code = 0
    try:
        while True:
            msg = ws.recv(timeout=10)
            if msg["type"] == "audio_ack":
                acked.append(msg["seq"])
            elif msg["type"] == "error":
                assert msg["code"] == "rate_limited"
                limited += 1
    except Exception as exc:  # noqa: BLE001 - the close ends the loop
        code = getattr(getattr(exc, "rcvd", None), "code", 0)
    assert code == p.CloseCode.RATE_LIMITED
    assert limited == 50
    assert 40 <= len(acked) <= 60  # the burst plus what the 10/s refill allowed meanwhile
    stored = sorted(AudioBatch.objects.values_list("seq", flat=True))
    assert stored == sorted(acked)  # exactly the acked batches: nothing refused was stored


# --- tickets and tokens -------------------------------------------------------------------------------


def _ticket(api: CallerApi, token: str, role: str) -> str:
    return str(api.post("/api/v1/ws-tickets", token, {"role": role})["ticket"])


TICKET_CASES = ["expired", "replayed", "wrong_role", "token_revoked", "device_revoked", "garbage", "missing"]


@pytest.mark.parametrize("case", TICKET_CASES)
def test_bad_tickets_close_4001_with_their_code(api: CallerApi, sitting: f.Sitting, case: str) -> None:
    api.pair(sitting)
    raw = _ticket(api, sitting.phone_token, "phone")
    route = "phone"
    expected = {
        "expired": "ticket_expired",
        "replayed": "ticket_used",
        "wrong_role": "ticket_invalid",
        "token_revoked": "ticket_invalid",
        "device_revoked": "device_revoked",
        "garbage": "ticket_invalid",
        "missing": "ticket_invalid",
    }[case]
    if case == "expired":
        WsTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "replayed":
        first = WS(f"{api.ws_base}/ws/phone/?ticket={raw}", keepalive=None)
        first.send({"type": "hello", "version": 1})
        first.until("hello_ok")
        first.close()
    elif case == "wrong_role":
        route = "desktop"
    elif case == "token_revoked":
        AuthToken.objects.filter(kind=AuthToken.Kind.MINIPROGRAM).update(revoked_at=timezone.now())
    elif case == "device_revoked":
        from monitor.models import PhoneDevice

        PhoneDevice.objects.update(revoked_at=timezone.now(), revoke_reason="test")
    elif case == "garbage":
        raw = "x" * 500
    elif case == "missing":
        raw = ""
    used_before = sorted(WsTicket.objects.values_list("pk", "used_at"))
    before = census()

    ws = WS(f"{api.ws_base}/ws/{route}/?ticket={raw}", origin=api.base, keepalive=None)

    assert ws.until("error")["code"] == expected
    assert ws.closed_with() == p.CloseCode.AUTH_FAILED
    assert census() == before
    assert sorted(WsTicket.objects.values_list("pk", "used_at")) == used_before  # not consumed


@pytest.mark.parametrize("case", ["expired", "revoked", "unknown", "wrong_scheme", "desktop_token_as_phone"])
def test_bad_bearer_tokens_get_401_and_no_ticket(api: CallerApi, sitting: f.Sitting, case: str) -> None:
    token, header = sitting.phone_token, "Bearer"
    if case == "expired":
        AuthToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "revoked":
        AuthToken.objects.update(revoked_at=timezone.now())
    elif case == "unknown":
        token = "A" * 43
    elif case == "wrong_scheme":
        header = "Token"
    elif case == "desktop_token_as_phone":
        token = sitting.desktop_token
    tickets = WsTicket.objects.count()

    response = requests.post(
        f"{api.base}/api/v1/pairing/claim",
        json={"token": "x" * 32},
        headers=api.headers(token, header),
        timeout=10,
    )

    body = response.json()
    expected = {
        "expired": (401, "token_expired"),
        "revoked": (401, "token_revoked"),
        "unknown": (401, "token_invalid"),
        "wrong_scheme": (401, "not_authenticated"),
        "desktop_token_as_phone": (403, "forbidden"),
    }[case]
    assert (response.status_code, body["code"]) == expected, body
    assert set(body) == {"code", "message", "extra"}
    assert WsTicket.objects.count() == tickets


# --- another candidate's ids -------------------------------------------------------------------------


def test_another_candidates_ids_are_refused_everywhere(api: CallerApi) -> None:
    session = f.running_session()
    mine, theirs = f.sitting(session, 1), f.sitting(session, 2)
    their_pairing = api.post("/api/v1/pairing/tokens", theirs.desktop_token)
    before = census()

    for suffix in ("qr.png", "qr.svg"):
        r = requests.get(
            f"{api.base}/api/v1/pairing/tokens/{their_pairing['id']}/{suffix}",
            headers=api.headers(mine.desktop_token),
            timeout=10,
        )
        assert (r.status_code, r.json()["code"]) == (404, "pairing_token_unknown")
    r = requests.post(
        f"{api.base}/api/v1/pairing/claim",
        json={"token": their_pairing["url"].split("?t=")[1]},
        headers=api.headers(mine.phone_token),
        timeout=10,
    )
    assert (r.status_code, r.json()["code"]) == (403, "pairing_wrong_candidate")
    # A desktop token is scoped to its own attempt: the exams API never takes an attempt id from it.
    r = requests.get(
        f"{api.base}/api/v1/attempts/{theirs.attempt.pk}",
        headers=api.headers(mine.desktop_token),
        timeout=10,
    )
    assert r.status_code in (401, 403), r.text
    assert census() == before


def test_a_proctor_cannot_see_or_command_another_proctors_session(api: CallerApi) -> None:
    mine, other = f.running_session(), f.running_session()
    user = f.proctor(mine)
    theirs = f.sitting(other, 7)
    ws = api.proctor(user, mine.pk)
    ws.until("session_state")
    before = census()

    ws.send({"type": "subscribe", "session_id": other.pk})
    assert ws.until("error")["code"] == "forbidden"
    for command in (
        {"type": "warn", "attempt_id": theirs.attempt.pk, "category": "conduct", "request_id": "w"},
        {"type": "force_submit", "attempt_id": theirs.attempt.pk, "request_id": "f"},
        {"type": "disqualify", "attempt_id": theirs.attempt.pk, "request_id": "d"},
        {"type": "approve_break", "attempt_id": 2**30, "request_id": "a"},
    ):
        ws.send(command)
        result = ws.until("command_result", request_id=command["request_id"])
        assert result["ok"] is False and result["code"] in ("forbidden", "attempt_not_found"), result
    assert census() == before
    ws.close()


# --- desktop messages ---------------------------------------------------------------------------------

DESKTOP_TEXT = [
    ("focus_unknown_state", {"type": "focus", "state": "maybe"}, "invalid"),
    ("focus_state_as_bool", {"type": "focus", "state": True}, "invalid"),
    ("break_empty_reason", {"type": "break_request", "reason": ""}, "invalid"),
    ("break_reason_too_long", {"type": "break_request", "reason": "x" * 201}, "invalid"),
    ("warning_ack_negative", {"type": "warning_ack", "warning_id": -1}, "invalid"),
    ("monitoring_as_string", {"type": "monitoring", "shown": "true"}, "invalid"),
    ("snapshot_on_desktop", {"type": "audio", "seq": 1, "interval_ms": 100, "levels": [-1]}, "unknown_type"),
    ("status_sent_by_client", {"type": "status", "state": {"status": "submitted"}}, "unknown_type"),
    ("force_submit_by_desktop", {"type": "force_submit", "attempt_id": 1}, "unknown_type"),
]


@pytest.mark.parametrize(("name", "message", "code"), DESKTOP_TEXT, ids=[c[0] for c in DESKTOP_TEXT])
def test_desktop_messages_are_refused_and_change_nothing(
    api: CallerApi, sitting: f.Sitting, name: str, message: dict[str, Any], code: str
) -> None:
    ws = api.desktop(sitting)
    before = census()

    ws.send(message)

    error = ws.until("error")
    assert error["code"] == code, error
    still_open(ws)
    assert census() == before
    ws.close()


# --- Origin on browser routes ----------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil.example"])
def test_a_foreign_origin_is_refused_on_the_proctor_route_and_the_console(
    api: CallerApi, origin: str
) -> None:
    session = f.running_session()
    user = f.proctor(session)
    raw = monitor_services.ws_ticket_issue(role="proctor", user=user).raw
    with pytest.raises(InvalidStatus) as info:
        WS(f"{api.ws_base}/ws/proctor/?ticket={raw}", origin=origin)
    assert info.value.response.status_code == 403
    assert WsTicket.objects.get().used_at is None  # refused before the consumer ran
    # The console's login form: a cross-site POST fails the CSRF origin check.
    r = requests.post(
        f"{api.base}/accounts/login/",
        data={"username": user.username, "password": "pw-proctor-123"},
        headers={"Origin": origin, "Referer": origin + "/", "X-Forwarded-For": api.ip},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 403
    assert "sessionid" not in r.cookies
