"""monitor.protocol: every message is validated, unknown fields and types are refused with stable codes."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime

import pytest

from monitor import protocol as p
from monitor.consumers import TokenBucket


def parse(role: str, msg: dict) -> object:
    return p.parse(role, json.dumps(msg))


def code_of(role: str, raw: str | bytes) -> str:
    with pytest.raises(p.ProtocolError) as info:
        p.parse(role, raw)
    return info.value.code


def test_phone_messages_parse_into_typed_models() -> None:
    hello = parse("phone", {"type": "hello", "version": 1, "device": {"platform": "android", "battery": 80}})
    assert isinstance(hello, p.PhoneHello)
    assert hello.device.platform == "android" and hello.device.battery == 80
    audio = parse("phone", {"type": "audio", "seq": 3, "interval_ms": 100, "levels": [-40.5, -38.0]})
    assert isinstance(audio, p.PhoneAudio)
    assert audio.levels == [-40.5, -38.0]
    assert isinstance(parse("phone", {"type": "heartbeat"}), p.PhoneHeartbeat)


def test_unknown_fields_are_refused_everywhere() -> None:
    assert code_of("phone", json.dumps({"type": "heartbeat", "extra": 1})) == p.ErrorCode.INVALID
    nested = {"type": "hello", "version": 1, "device": {"platform": "x", "imei": "123"}}
    assert code_of("phone", json.dumps(nested)) == p.ErrorCode.INVALID
    assert (
        code_of("desktop", json.dumps({"type": "focus", "state": "lost", "status": "x"}))
        == p.ErrorCode.INVALID
    )
    warn = {"type": "warn", "attempt_id": 1, "category": "headphones", "status": "disqualified"}
    assert code_of("proctor", json.dumps(warn)) == p.ErrorCode.INVALID


def test_types_are_per_role() -> None:
    # A phone cannot send proctor commands, a desktop cannot send audio.
    assert (
        code_of("phone", json.dumps({"type": "warn", "attempt_id": 1, "category": "x"}))
        == p.ErrorCode.UNKNOWN_TYPE
    )
    assert code_of("desktop", json.dumps({"type": "audio", "seq": 1})) == p.ErrorCode.UNKNOWN_TYPE
    assert code_of("proctor", json.dumps({"type": "focus", "state": "lost"})) == p.ErrorCode.UNKNOWN_TYPE
    assert code_of("phone", json.dumps({"no": "type"})) == p.ErrorCode.UNKNOWN_TYPE


def test_malformed_and_oversized_text() -> None:
    assert code_of("phone", "{not json") == p.ErrorCode.MALFORMED
    assert code_of("phone", "[1, 2]") == p.ErrorCode.MALFORMED
    assert code_of("phone", "x" * (p.MAX_TEXT_FRAME_BYTES + 1)) == p.ErrorCode.MESSAGE_TOO_LARGE


def test_field_ranges_are_checked() -> None:
    too_loud = {"type": "audio", "seq": 1, "interval_ms": 100, "levels": [3.0]}
    assert code_of("phone", json.dumps(too_loud)) == p.ErrorCode.INVALID
    many = {"type": "audio", "seq": 1, "interval_ms": 100, "levels": [-30.0] * (p.MAX_AUDIO_LEVELS + 1)}
    assert code_of("phone", json.dumps(many)) == p.ErrorCode.INVALID
    zero_seq = {"type": "audio", "seq": 0, "interval_ms": 100, "levels": [-30.0]}
    with pytest.raises(p.ProtocolError) as info:
        p.parse("phone", json.dumps(zero_seq))
    assert (info.value.code, info.value.seq) == (p.ErrorCode.INVALID, 0)
    bad_reason = {"type": "force_submit", "attempt_id": 1, "reason": "Not A Code"}
    assert code_of("proctor", json.dumps(bad_reason)) == p.ErrorCode.INVALID


def test_snapshot_frame_round_trip() -> None:
    at = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
    frame = p.build_snapshot_frame(seq=7, data=b"\xff\xd8jpeg", captured_at=at)
    parsed = p.parse_snapshot_frame(frame, max_image_bytes=100)
    assert parsed == p.SnapshotFrame(seq=7, captured_at=at, data=b"\xff\xd8jpeg")


def test_snapshot_frame_refusals_carry_codes_and_seq() -> None:
    big = p.build_snapshot_frame(seq=9, data=b"x" * 101)
    with pytest.raises(p.ProtocolError) as info:
        p.parse_snapshot_frame(big, max_image_bytes=100)
    assert (info.value.code, info.value.seq) == (p.ErrorCode.FRAME_TOO_LARGE, 9)

    def code(frame: bytes) -> str:
        with pytest.raises(p.ProtocolError) as err:
            p.parse_snapshot_frame(frame, max_image_bytes=100)
        return err.value.code

    assert code(b"\x00\x00") == p.ErrorCode.MALFORMED
    assert code(struct.pack("!I", 500) + b"{}") == p.ErrorCode.MALFORMED  # length beyond the frame
    assert code(struct.pack("!I", 2) + b"[]" + b"img") == p.ErrorCode.MALFORMED
    header = json.dumps({"type": "snapshot", "seq": 1, "camera": "front"}).encode()
    assert code(struct.pack("!I", len(header)) + header + b"img") == p.ErrorCode.INVALID
    assert code(p.build_snapshot_frame(seq=1, data=b"")) == p.ErrorCode.INVALID


def test_builders_produce_the_documented_shapes() -> None:
    now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert p.ack(seq=3, snapshot_id=10, duplicate=False) == {
        "type": "ack",
        "seq": 3,
        "snapshot_id": 10,
        "duplicate": False,
    }
    assert p.error("invalid", "x", seq=2) == {"type": "error", "code": "invalid", "message": "x", "seq": 2}
    assert p.monitoring(on=True) == {
        "type": "monitoring",
        "on": True,
        "label": {"zh": "正在监控中", "en": "Monitoring"},
    }
    assert p.pairing(state="lost", device_id=4, since=now) == {
        "type": "pairing",
        "state": "lost",
        "device_id": 4,
        "kind": None,
        "since": "2026-11-29T08:00:00+00:00",
    }
    assert p.json_dumps(p.monitoring(on=True)).count("正在监控中") == 1


def test_group_names_are_valid_channels_group_names() -> None:
    from channels.layers import BaseChannelLayer

    layer = BaseChannelLayer()
    for name in (
        p.group_attempt_desktop(12345678),
        p.group_attempt_phone(1),
        p.group_device(99),
        p.group_token(5),
        p.group_session_proctors(7),
    ):
        assert layer.require_valid_group_name(name) is True


def test_close_codes_are_distinct_and_in_the_application_range() -> None:
    codes = [v for k, v in vars(p.CloseCode).items() if k.isupper()]
    assert len(codes) == len(set(codes)) == 12
    assert all(4000 <= c <= 4999 for c in codes)


def test_token_bucket_allows_burst_then_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.4) is False  # 0.8 token
    assert bucket.take(0.5) is True  # 1.0 token
    assert bucket.take(10.0) and bucket.take(10.0) and bucket.take(10.0) and not bucket.take(10.0)
