"""THE WebSocket wire format: every message, both directions, for the phone, desktop and proctor.

One module owns it (documented in docs/protocol.md): the protocol version, pydantic models that
refuse unknown fields, ``parse_*`` functions returning a typed message or raising ``ProtocolError``
with a stable code, builders for every server → client message (consumers never write dict
literals), group names and close codes. No Django ORM here: it is imported by consumers, the
broadcaster and the reference client alike.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

# Text frames are small JSON; snapshots travel as binary frames (see ``parse_snapshot_frame``).
MAX_TEXT_FRAME_BYTES = 64 * 1024
MAX_SNAPSHOT_HEADER_BYTES = 1024
MAX_AUDIO_LEVELS = 600  # one minute at 100 ms


class CloseCode:
    """WebSocket close codes 4000–4999 (application range). Clients switch on them."""

    PROTOCOL_ERROR = 4000  # too many invalid messages; the client is broken
    AUTH_FAILED = 4001  # ticket missing, unknown, expired or used; get a new ticket
    UNSUPPORTED_VERSION = 4002  # hello.version not supported; update the client
    DEVICE_REPLACED = 4003  # another phone was paired for this attempt; do not reconnect
    SUPERSEDED = 4004  # the same device/desktop opened a newer socket; do not reconnect this one
    TOKEN_REVOKED = 4005  # the login behind this socket was revoked; log in again
    HEARTBEAT_TIMEOUT = 4006  # nothing received for HEARTBEAT_TIMEOUT_SECONDS; reconnect
    HELLO_REQUIRED = 4007  # the first message was not hello, or none came in time
    RATE_LIMITED = 4008  # sustained message rate above the limit
    MESSAGE_TOO_LARGE = 4009  # a text frame above MAX_TEXT_FRAME_BYTES
    ATTEMPT_ENDED = 4010  # the exam attempt is over; nothing more to monitor
    FORBIDDEN = 4011  # authenticated but not allowed here


class ErrorCode:
    """Codes of ``error`` frames (the socket stays open unless a close code follows)."""

    MALFORMED = "malformed"  # not JSON / not an object / bad binary header
    UNKNOWN_TYPE = "unknown_type"
    INVALID = "invalid"  # a field is missing, has the wrong type, or is unknown (extra="forbid")
    HELLO_REQUIRED = "hello_required"
    UNSUPPORTED_VERSION = "unsupported_version"
    FRAME_TOO_LARGE = "frame_too_large"  # snapshot bigger than SNAPSHOT_MAX_BYTES: drop it, shrink it
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    NOT_SUBSCRIBED = "not_subscribed"
    BINARY_NOT_ALLOWED = "binary_not_allowed"


class ProtocolError(Exception):
    """A message that cannot be accepted; ``code`` is an ``ErrorCode`` value."""

    def __init__(self, code: str, message: str = "", *, seq: int | None = None) -> None:
        self.code = code
        self.message = message or code
        self.seq = seq
        super().__init__(self.message)


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Seq = Annotated[int, Field(ge=1, le=2**31 - 1)]
ShortText = Annotated[str, Field(max_length=500)]


class DeviceInfo(_Msg):
    platform: Annotated[str, Field(max_length=32)] = ""
    model: Annotated[str, Field(max_length=64)] = ""
    system: Annotated[str, Field(max_length=64)] = ""
    app_version: Annotated[str, Field(max_length=32)] = ""
    battery: Annotated[int, Field(ge=0, le=100)] | None = None


# --- phone → server --------------------------------------------------------------------------------


class PhoneHello(_Msg):
    type: Literal["hello"]
    version: int
    device: DeviceInfo = DeviceInfo()


class PhoneHeartbeat(_Msg):
    type: Literal["heartbeat"]
    battery: Annotated[int, Field(ge=0, le=100)] | None = None
    charging: bool | None = None


class PhoneAudio(_Msg):
    type: Literal["audio"]
    seq: Seq
    interval_ms: Annotated[int, Field(ge=20, le=10_000)]
    levels: Annotated[list[Annotated[float, Field(ge=-160.0, le=0.0)]], Field(min_length=1, max_length=600)]
    started_at: datetime | None = None


class CommandAck(_Msg):
    type: Literal["command_ack"]
    command_id: Annotated[str, Field(min_length=1, max_length=64)]


PhoneMessage = Annotated[PhoneHello | PhoneHeartbeat | PhoneAudio | CommandAck, Field(discriminator="type")]


@dataclass(frozen=True)
class SnapshotFrame:
    """A binary snapshot frame: ``!I`` header length, JSON header, image bytes."""

    seq: int
    captured_at: datetime | None
    data: bytes


class SnapshotHeader(_Msg):
    type: Literal["snapshot"]
    seq: Seq
    captured_at: datetime | None = None


# --- desktop → server ------------------------------------------------------------------------------


class DesktopHello(_Msg):
    type: Literal["hello"]
    version: int
    client: Annotated[str, Field(max_length=64)] = ""


class DesktopHeartbeat(_Msg):
    type: Literal["heartbeat"]


class Focus(_Msg):
    """The exam window lost or regained focus (the 离屏 rule)."""

    type: Literal["focus"]
    state: Literal["lost", "regained"]
    at: datetime | None = None  # the client's clock: recorded, never trusted


class BreakRequest(_Msg):
    type: Literal["break_request"]
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class BreakReturn(_Msg):
    type: Literal["break_return"]


class WarningAck(_Msg):
    type: Literal["warning_ack"]
    warning_id: Annotated[int, Field(ge=1)] | None = None  # from the ``warning`` push; none = all


class MonitoringShown(_Msg):
    """The desktop reports whether it displays the 正在监控中 indicator (audit of what the candidate saw)."""

    type: Literal["monitoring"]
    shown: bool


DesktopMessage = Annotated[
    DesktopHello
    | DesktopHeartbeat
    | Focus
    | BreakRequest
    | BreakReturn
    | WarningAck
    | MonitoringShown
    | CommandAck,
    Field(discriminator="type"),
]


# --- proctor → server ------------------------------------------------------------------------------


class ProctorHello(_Msg):
    type: Literal["hello"]
    version: int


class ProctorHeartbeat(_Msg):
    type: Literal["heartbeat"]


class Subscribe(_Msg):
    type: Literal["subscribe"]
    session_id: Annotated[int, Field(ge=1)]


class Unsubscribe(_Msg):
    type: Literal["unsubscribe"]
    session_id: Annotated[int, Field(ge=1)]


ReasonCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class _ProctorCommand(_Msg):
    attempt_id: Annotated[int, Field(ge=1)]
    request_id: Annotated[str, Field(max_length=64)] = ""


class Warn(_ProctorCommand):
    type: Literal["warn"]
    category: Annotated[str, Field(min_length=1, max_length=32)]
    message: ShortText = ""
    incident_id: Annotated[int, Field(ge=1)] | None = None


class ApproveBreak(_ProctorCommand):
    type: Literal["approve_break"]
    note: ShortText = ""


class DenyBreak(_ProctorCommand):
    type: Literal["deny_break"]
    note: ShortText = ""


class ForceSubmit(_ProctorCommand):
    type: Literal["force_submit"]
    reason: ReasonCode | None = None  # a code, e.g. "left_camera"; the note is free text
    note: ShortText = ""


class Disqualify(_ProctorCommand):
    type: Literal["disqualify"]
    reason: ReasonCode | None = None
    note: ShortText = ""


class Message(_ProctorCommand):
    type: Literal["message"]
    text: Annotated[str, Field(min_length=1, max_length=500)]


class IncidentDecision(_ProctorCommand):
    type: Literal["incident_confirm", "incident_dismiss"]
    incident_id: Annotated[int, Field(ge=1)]
    note: ShortText = ""


ProctorCommand = Warn | ApproveBreak | DenyBreak | ForceSubmit | Disqualify | Message | IncidentDecision
ProctorMessage = Annotated[
    ProctorHello
    | ProctorHeartbeat
    | Subscribe
    | Unsubscribe
    | Warn
    | ApproveBreak
    | DenyBreak
    | ForceSubmit
    | Disqualify
    | Message
    | IncidentDecision,
    Field(discriminator="type"),
]

# Proctor command type → exams action (exams.services.attempt_apply_action). ``message`` is not a
# status change: it is an event plus a push (see monitor.services.proctor_command).
PROCTOR_ACTIONS: dict[str, str] = {
    "warn": "warn",
    "approve_break": "break_approve",
    "deny_break": "break_deny",
    "force_submit": "force_submit",
    "disqualify": "disqualify",
    "incident_confirm": "incident_confirm",
    "incident_dismiss": "incident_dismiss",
}

_PHONE = TypeAdapter(PhoneMessage)
_DESKTOP = TypeAdapter(DesktopMessage)
_PROCTOR = TypeAdapter(ProctorMessage)
_ADAPTERS: dict[str, TypeAdapter[Any]] = {"phone": _PHONE, "desktop": _DESKTOP, "proctor": _PROCTOR}
_TYPES: dict[str, frozenset[str]] = {
    "phone": frozenset({"hello", "heartbeat", "audio", "command_ack"}),
    "desktop": frozenset(
        {
            "hello",
            "heartbeat",
            "focus",
            "break_request",
            "break_return",
            "warning_ack",
            "monitoring",
            "command_ack",
        }
    ),
    "proctor": frozenset({"hello", "heartbeat", "subscribe", "unsubscribe", *PROCTOR_ACTIONS, "message"}),
}


def parse(role: str, text: str | bytes) -> Any:
    """Parse one text frame from a client of ``role`` into its typed message, or raise ProtocolError."""
    if len(text) > MAX_TEXT_FRAME_BYTES:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LARGE, f"text frames are limited to {MAX_TEXT_FRAME_BYTES} bytes"
        )
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(ErrorCode.MALFORMED, "not valid JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.MALFORMED, "a message is a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _TYPES[role]:  # a list/dict "type" is unhashable
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type for {role}: {str(kind)[:40]!r}")
    try:
        # Strict, from the JSON text: lax mode would coerce wrong types ("7" or true → a seq of 7 or 1,
        # "yes" → True) instead of refusing them; strict JSON mode still reads ISO datetimes.
        return _ADAPTERS[role].validate_json(text, strict=True)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.INVALID, _describe(exc), seq=_int_or_none(raw.get("seq"))) from None


def parse_snapshot_frame(frame: bytes, *, max_image_bytes: int) -> SnapshotFrame:
    """Binary frame: 4-byte big-endian header length N, N bytes of JSON header, then the image."""
    if len(frame) < 4:
        raise ProtocolError(ErrorCode.MALFORMED, "binary frame shorter than its length prefix")
    (header_len,) = struct.unpack("!I", frame[:4])
    if header_len == 0 or header_len > MAX_SNAPSHOT_HEADER_BYTES or 4 + header_len > len(frame):
        raise ProtocolError(ErrorCode.MALFORMED, "bad snapshot header length")
    try:
        raw = json.loads(frame[4 : 4 + header_len])
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(ErrorCode.MALFORMED, "snapshot header is not JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.MALFORMED, "snapshot header is a JSON object")
    try:
        header = SnapshotHeader.model_validate_json(frame[4 : 4 + header_len], strict=True)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.INVALID, _describe(exc), seq=_int_or_none(raw.get("seq"))) from None
    data = frame[4 + header_len :]
    if not data:
        raise ProtocolError(ErrorCode.INVALID, "snapshot without image bytes", seq=header.seq)
    if len(data) > max_image_bytes:
        raise ProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"images are limited to {max_image_bytes} bytes", seq=header.seq
        )
    return SnapshotFrame(seq=header.seq, captured_at=header.captured_at, data=data)


def build_snapshot_frame(*, seq: int, data: bytes, captured_at: datetime | None = None) -> bytes:
    """The client side of ``parse_snapshot_frame`` (reference client, simulator, tests)."""
    header: dict[str, Any] = {"type": "snapshot", "seq": seq}
    if captured_at is not None:
        header["captured_at"] = captured_at.isoformat()
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("!I", len(encoded)) + encoded + data


def json_dumps(payload: dict[str, Any]) -> str:
    """Compact JSON with Chinese kept readable (UTF-8 on the wire, not \\u escapes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['type']}")
    return "; ".join(parts)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- server → client builders ------------------------------------------------------------------------
# Plain dicts (JSON-ready) so they can also travel through the channel layer unchanged.

Text = dict[str, str]  # {"zh": ..., "en": ...}: the phone and desktop show one, per the user's language


def text(zh: str, en: str) -> Text:
    return {"zh": zh, "en": en}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def error(code: str, message: str = "", *, seq: int | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "error", "code": code, "message": message or code}
    if seq is not None:
        msg["seq"] = seq
    return msg


def phone_hello_ok(
    *,
    device_id: int,
    attempt_id: int,
    resume_from: int,
    audio_resume_from: int,
    heartbeat_interval_s: float,
    heartbeat_timeout_s: float,
    snapshot_interval_s: int,
    max_image_bytes: int,
    server_time: datetime,
) -> dict[str, Any]:
    """``resume_from``: the highest snapshot seq durably stored; resend everything after it."""
    return {
        "type": "hello_ok",
        "version": PROTOCOL_VERSION,
        "device_id": device_id,
        "attempt_id": attempt_id,
        "resume_from": resume_from,
        "audio_resume_from": audio_resume_from,
        "heartbeat_interval_s": heartbeat_interval_s,
        "heartbeat_timeout_s": heartbeat_timeout_s,
        "snapshot_interval_s": snapshot_interval_s,
        "max_image_bytes": max_image_bytes,
        "server_time": server_time.isoformat(),
    }


def ack(*, seq: int, snapshot_id: int, duplicate: bool) -> dict[str, Any]:
    """Sent only after the snapshot is durably stored; ``duplicate``: it had been stored before."""
    return {"type": "ack", "seq": seq, "snapshot_id": snapshot_id, "duplicate": duplicate}


def audio_ack(*, seq: int) -> dict[str, Any]:
    return {"type": "audio_ack", "seq": seq}


def heartbeat_ack(*, server_time: datetime) -> dict[str, Any]:
    return {"type": "heartbeat_ack", "server_time": server_time.isoformat()}


def framing(
    *, snapshot_id: int, seq: int, ok: bool, guidance: list[Text], person_count: int | None
) -> dict[str, Any]:
    """Live guidance for placing the phone (from media_pipeline's analysis of one frame)."""
    return {
        "type": "framing",
        "snapshot_id": snapshot_id,
        "seq": seq,
        "ok": ok,
        "person_count": person_count,
        "guidance": guidance,
    }


CommandName = Literal["warning", "break_approved", "break_denied", "exam_ended", "message"]


def command(
    *, command_id: str, name: CommandName, message: Text, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Something the phone must show; it answers ``command_ack``."""
    return {"type": "command", "command_id": command_id, "command": name, "text": message, "data": data or {}}


def hello_ok(*, role: str, attempt_id: int | None = None, server_time: datetime) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "hello_ok", "version": PROTOCOL_VERSION, "role": role}
    if attempt_id is not None:
        msg["attempt_id"] = attempt_id
    msg["server_time"] = server_time.isoformat()
    return msg


PairingState = Literal["unpaired", "paired", "online", "lost"]


def pairing(
    *, state: PairingState, device_id: int | None, kind: str | None = None, since: datetime | None = None
) -> dict[str, Any]:
    """Desktop: the phone monitor's state. ``online``: paired and streaming; ``lost``: heartbeat timeout."""
    return {"type": "pairing", "state": state, "device_id": device_id, "kind": kind, "since": _iso(since)}


def monitoring(*, on: bool) -> dict[str, Any]:
    """Desktop: show (on) or hide the blinking 正在监控中 indicator."""
    label = text("正在监控中", "Monitoring") if on else text("监控未连接", "Monitor not connected")
    return {"type": "monitoring", "on": on, "label": label}


def status(*, state: dict[str, Any]) -> dict[str, Any]:
    """Desktop and phone: the attempt's state as exams.selectors.attempt_state reports it."""
    return {"type": "status", "state": state}


def warning(
    *,
    event_id: int,
    warning_id: int | None,
    category: str,
    message: Text,
    count: int | None,
    limit: int | None,
) -> dict[str, Any]:
    """Desktop: a proctor's (or the system's) warning; answer ``warning_ack`` with ``warning_id``."""
    return {
        "type": "warning",
        "event_id": event_id,
        "warning_id": warning_id,
        "category": category,
        "text": message,
        "count": count,
        "limit": limit,
    }


def break_decision(*, event_id: int, approved: bool, message: Text, due_at: str | None) -> dict[str, Any]:
    """``due_at``: when an approved break must be over (ISO 8601)."""
    return {
        "type": "break_decision",
        "event_id": event_id,
        "approved": approved,
        "text": message,
        "due_at": due_at,
    }


def forced_submit(*, event_id: int, status: str, reason: str, message: Text) -> dict[str, Any]:
    """Desktop: the attempt ended by force (force_submitted or disqualified); close the paper."""
    return {
        "type": "forced_submit",
        "event_id": event_id,
        "status": status,
        "reason": reason,
        "text": message,
    }


def proctor_message(*, message: Text, sent_at: datetime) -> dict[str, Any]:
    return {"type": "message", "text": message, "sent_at": sent_at.isoformat()}


# proctor
def session_state(*, session: dict[str, Any], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """Proctor: the initial state after ``subscribe``; deltas follow."""
    return {"type": "session_state", "session": session, "attempts": attempts}


def attempt_delta(
    *, attempt_id: int, session_id: int, state: dict[str, Any], events: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "attempt",
        "attempt_id": attempt_id,
        "session_id": session_id,
        "state": state,
        "events": events,
    }


def snapshot_delta(
    *, attempt_id: int, session_id: int, snapshot_id: int, seq: int, thumbnail_url: str, received_at: datetime
) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "attempt_id": attempt_id,
        "session_id": session_id,
        "snapshot_id": snapshot_id,
        "seq": seq,
        "thumbnail_url": thumbnail_url,
        "received_at": received_at.isoformat(),
    }


def flag(
    *, attempt_id: int, session_id: int, snapshot_id: int, person_count: int | None, reasons: list[str]
) -> dict[str, Any]:
    """Proctor: an analysed frame that did not pass."""
    return {
        "type": "flag",
        "attempt_id": attempt_id,
        "session_id": session_id,
        "snapshot_id": snapshot_id,
        "person_count": person_count,
        "reasons": reasons,
    }


AlertKind = Literal[
    "phone_lost",
    "phone_restored",
    "phone_paired",
    "phone_replaced",
    "desktop_lost",
    "desktop_restored",
    "loud_audio",
    "voices",
]


def alert(
    *, attempt_id: int, session_id: int, kind: AlertKind, at: datetime, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": "alert",
        "attempt_id": attempt_id,
        "session_id": session_id,
        "kind": kind,
        "at": at.isoformat(),
        "data": data or {},
    }


def audio_delta(
    *,
    attempt_id: int,
    session_id: int,
    max_dbfs: float,
    mean_dbfs: float,
    window_s: float,
    readings: int,
    at: datetime,
) -> dict[str, Any]:
    """Proctor: the sound level of one attempt over the last window (the tile's audio meter), at most
    one per attempt every WS_AUDIO_DELTA_INTERVAL_SECONDS (2): a phone sends a batch of levels about
    every second, and fanning each one out to every proctor is what overloads a Redis channel layer.
    ``mean_dbfs`` is the energy mean (averaged as power, then back to dB), so a short shout is not
    averaged away by the silence around it the way a mean of dB values would."""
    return {
        "type": "audio",
        "attempt_id": attempt_id,
        "session_id": session_id,
        "max_dbfs": round(max_dbfs, 1),
        "mean_dbfs": round(mean_dbfs, 1),
        "window_s": round(window_s, 2),
        "readings": readings,
        "at": at.isoformat(),
    }


def command_result(*, request_id: str, ok: bool, code: str = "", message: str = "") -> dict[str, Any]:
    return {"type": "command_result", "request_id": request_id, "ok": ok, "code": code, "message": message}


# --- group names (Channels: ASCII letters, digits, hyphen, underscore, period; < 100 chars) -------------


def group_attempt_desktop(attempt_id: int) -> str:
    return f"attempt.{attempt_id}.desktop"


def group_attempt_phone(attempt_id: int) -> str:
    return f"attempt.{attempt_id}.phone"


def group_device(device_id: int) -> str:
    return f"device.{device_id}"


def group_token(token_id: int) -> str:
    return f"token.{token_id}"


def group_session_proctors(session_id: int) -> str:
    return f"session.{session_id}.proctors"


# Channel-layer envelopes: consumers forward ``payload`` as a JSON text frame, or close with ``code``.
def envelope_send(payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "push.send", "payload": payload}


def envelope_send_many(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """Several payloads for one group in one channel-layer message (monitor.fanout), sent in order."""
    return {"type": "push.many", "payloads": payloads}


def envelope_close(code: int, *, except_channel: str = "") -> dict[str, Any]:
    return {"type": "push.close", "code": code, "except_channel": except_channel}


def envelope_supersede(*, channel: str, opened_at: float) -> dict[str, Any]:
    """Close the sockets of the group that opened before this one (``opened_at``, epoch seconds;
    ties broken by channel name): the same device or desktop connected again. Ordered by opening
    time, not by arrival: a pub/sub layer delivers by the receiving process's membership when the
    message arrives, so a socket that joined just after an older socket's announcement could get
    it too — and must not close for it."""
    return {**envelope_close(CloseCode.SUPERSEDED, except_channel=channel), "opened_at": opened_at}
