"""The broadcast receivers run in the thread that sent the signal; here that is a test holding its
transaction open (on-commit callbacks captured and run inside it). They must push and leave that
thread's database connection alone: closing it mid-transaction would break the caller."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from exams import services as exam_services
from exams.models import Attempt
from media_pipeline import services as media_services
from media_pipeline.models import FrameAnalysis
from monitor import protocol as p
from monitor.models import PhoneDevice
from tests.monitor import factories as f
from tests.monitor.test_realtime import jpeg

pytestmark = pytest.mark.django_db


def _listen(group: str) -> tuple[Any, str]:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return layer, channel


def _receive(layer: Any, channel: str, type_: str) -> dict[str, Any]:
    """The first pushed payload of ``type_`` (an analysis may also open incidents: attempt deltas)."""
    for _ in range(10):
        payload: dict[str, Any] = async_to_sync(layer.receive)(channel)["payload"]
        if payload["type"] == type_:
            return payload
    raise AssertionError(f"no {type_} push")


def test_attempt_changed_receiver_pushes_and_keeps_the_callers_transaction(
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    user = f.proctor(session)
    layer, channel = _listen(p.group_attempt_desktop(s.attempt.pk))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        exam_services.attempt_apply_action(
            attempt_id=s.attempt.pk,
            action="warn",
            actor=user,
            data={"category": "conduct", "message": "请保持安静"},
        )
    assert len(callbacks) == 1
    warning = _receive(layer, channel, "warning")
    assert (warning["type"], warning["category"], warning["text"]["zh"]) == (
        "warning",
        "conduct",
        "请保持安静",
    )
    # The test's transaction is intact and the connection usable.
    assert connection.in_atomic_block and not connection.needs_rollback
    assert Attempt.objects.get(pk=s.attempt.pk).status == "in_progress"


def test_an_automatic_reminder_reaches_the_candidate_in_words_not_as_a_code(
    django_capture_on_commit_callbacks: Any,
) -> None:
    s = f.sitting(f.running_session(), 1)
    desktop, desktop_channel = _listen(p.group_attempt_desktop(s.attempt.pk))
    phone, phone_channel = _listen(p.group_attempt_phone(s.attempt.pk))
    with django_capture_on_commit_callbacks(execute=True):
        exam_services.incident_report(attempt_id=s.attempt.pk, kind="camera_covered")  # the analysis saw it

    warning = _receive(desktop, desktop_channel, "warning")
    assert warning["category"] == "camera"
    assert warning["text"] == {"zh": "请勿遮挡摄像头。", "en": "Do not cover the camera."}
    command = _receive(phone, phone_channel, "command")
    assert command["text"] == warning["text"]


def test_frame_analysed_receiver_pushes_and_keeps_the_callers_transaction(
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    device = PhoneDevice.objects.create(attempt=s.attempt, kind=PhoneDevice.Kind.BROWSER)
    layer, channel = _listen(p.group_device(device.pk))
    with django_capture_on_commit_callbacks(execute=True):
        snap = media_services.snapshot_ingest(device_id=device.pk, seq=1, data=jpeg(1))
    assert FrameAnalysis.objects.filter(snapshot=snap).count() == 1  # analysed in this thread
    framing = _receive(layer, channel, "framing")  # the verdict, to the phone
    assert (framing["snapshot_id"], framing["seq"]) == (snap.pk, 1)
    assert connection.in_atomic_block and not connection.needs_rollback
    assert PhoneDevice.objects.filter(pk=device.pk).exists()
