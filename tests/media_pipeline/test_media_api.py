"""The proctors' media endpoints: images and thumbnails (authorised, audited), reference approval,
the latest analysis report; refusals for anonymous users, candidates' tokens and other rooms."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from accounts.models import AccountAuditEntry, User
from media_pipeline import services
from media_pipeline.models import ReferenceFrame, Snapshot
from monitor.models import PhoneDevice
from tests.media_pipeline import images
from tests.monitor import factories as mf

pytestmark = pytest.mark.django_db


class Room:
    """A running session with one sitting, its phone, one analysed snapshot and its proctor."""

    def __init__(self, i: int) -> None:
        self.session = mf.running_session()
        self.sitting = mf.sitting(self.session, i)
        self.attempt = self.sitting.attempt
        self.device = PhoneDevice.objects.create(attempt=self.attempt, kind=PhoneDevice.Kind.MINIPROGRAM)
        self.proctor = mf.proctor(self.session, username=f"proctor{i}")
        self.snapshot = services.snapshot_ingest(
            device_id=self.device.pk, seq=1, data=images.photo_jpeg("astronaut", width=600 + i)
        )
        services.snapshot_analyse(snapshot_id=self.snapshot.pk)

    def client(self, user: User | None = None) -> Client:
        client = Client()
        client.force_login(user or self.proctor)
        return client


@pytest.fixture
def room() -> Room:
    return Room(1)


@pytest.fixture
def other_room() -> Room:
    return Room(2)


def url(name: str, **kwargs: int) -> str:
    from django.urls import reverse

    return reverse(f"api:{name}", kwargs=kwargs)


def audit() -> list[tuple[str, str, int | None]]:
    return list(AccountAuditEntry.objects.order_by("id").values_list("action", "target", "actor_user_id"))


def test_a_proctor_gets_the_stored_jpeg_and_the_view_is_audited(room: Room) -> None:
    response = room.client().get(url("snapshot-image", snapshot_id=room.snapshot.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=3600, immutable"
    assert response["ETag"] == f'"{room.snapshot.sha256}"'
    from media_pipeline import storage

    assert response.content == storage.read(room.snapshot.storage_key)
    assert audit() == [("snapshot_view", f"snapshot:{room.snapshot.pk}", room.proctor.pk)]
    entry = AccountAuditEntry.objects.get()
    assert entry.details == {"attempt_id": room.attempt.pk, "redirected": False}

    again = room.client().get(
        url("snapshot-image", snapshot_id=room.snapshot.pk), HTTP_IF_NONE_MATCH=f'"{room.snapshot.sha256}"'
    )
    assert again.status_code == 304 and again.content == b""
    assert len(audit()) == 2  # every full-size view is recorded, cached or not


def test_the_thumbnail_is_320_px_and_audited_once_per_window(room: Room) -> None:
    client = room.client()
    first = client.get(url("snapshot-thumbnail", snapshot_id=room.snapshot.pk))
    second = client.get(url("snapshot-thumbnail", snapshot_id=room.snapshot.pk))

    assert first.status_code == second.status_code == 200
    thumb = Image.open(io.BytesIO(first.content))
    assert (thumb.format, thumb.width, thumb.height) == ("JPEG", 320, 320)
    assert first["ETag"] == f'"{room.snapshot.sha256}-w320"'
    assert audit() == [("snapshot_thumbnail_view", f"snapshot:{room.snapshot.pk}", room.proctor.pk)]


@pytest.mark.parametrize("name", ["snapshot-image", "snapshot-thumbnail"])
def test_another_rooms_proctor_gets_404_and_nothing_is_audited(
    room: Room, other_room: Room, name: str
) -> None:
    response = other_room.client().get(url(name, snapshot_id=room.snapshot.pk))
    missing = other_room.client().get(url(name, snapshot_id=room.snapshot.pk + 1000))

    assert response.status_code == 404
    assert response.json() == {
        "code": "snapshot_not_found",
        "message": missing.json()["message"],
        "extra": {"snapshot_id": room.snapshot.pk},
    }
    assert missing.json()["code"] == "snapshot_not_found"  # hidden and missing look the same
    assert audit() == []


@pytest.mark.parametrize("name", ["snapshot-image", "snapshot-thumbnail"])
def test_anonymous_users_and_candidate_tokens_are_refused(room: Room, name: str) -> None:
    anonymous = Client().get(url(name, snapshot_id=room.snapshot.pk))
    candidate = Client().get(
        url(name, snapshot_id=room.snapshot.pk), HTTP_AUTHORIZATION=f"Bearer {room.sitting.phone_token}"
    )

    assert anonymous.status_code == 403 and anonymous.json()["code"] == "not_authenticated"
    assert candidate.status_code == 403 and candidate.json()["code"] == "not_authenticated"
    assert audit() == []


def test_a_proctor_approves_the_reference_frame(room: Room) -> None:
    response = room.client().post(url("snapshot-reference-approve", snapshot_id=room.snapshot.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["snapshot_id"] == room.snapshot.pk and body["attempt_id"] == room.attempt.pk
    assert body["approved_automatically"] is False and body["approved_by"] == "proctor1"
    assert body["thumbnail_url"] == url("snapshot-thumbnail", snapshot_id=room.snapshot.pk)
    ref = ReferenceFrame.objects.get(attempt=room.attempt)
    assert ref.approved_by == room.proctor and "signature" in ref.features
    assert audit() == [("reference_frame_approve", f"snapshot:{room.snapshot.pk}", room.proctor.pk)]


def test_reference_approval_refusals_change_nothing(room: Room, other_room: Room) -> None:
    pending = Snapshot.objects.create(
        **{
            f.name: getattr(room.snapshot, f.name)
            for f in Snapshot._meta.concrete_fields
            if f.name not in ("id", "seq", "analysis_status")
        },
        seq=2,
    )

    foreign = other_room.client().post(url("snapshot-reference-approve", snapshot_id=room.snapshot.pk))
    anonymous = Client().post(url("snapshot-reference-approve", snapshot_id=room.snapshot.pk))
    not_analysed = room.client().post(url("snapshot-reference-approve", snapshot_id=pending.pk))

    assert (foreign.status_code, foreign.json()["code"]) == (404, "snapshot_not_found")
    assert (anonymous.status_code, anonymous.json()["code"]) == (403, "not_authenticated")
    assert (not_analysed.status_code, not_analysed.json()["code"]) == (409, "snapshot_not_analysed")
    assert ReferenceFrame.objects.count() == 0
    assert audit() == []


def test_the_latest_analysis_of_an_attempt(room: Room) -> None:
    newer = services.snapshot_ingest(
        device_id=room.device.pk, seq=2, data=images.photo_jpeg("coffee", width=640)
    )
    services.snapshot_analyse(snapshot_id=newer.pk)
    services.snapshot_ingest(device_id=room.device.pk, seq=3, data=images.photo_jpeg("rocket", width=640))

    response = room.client().get(url("attempt-latest-analysis", attempt_id=room.attempt.pk))

    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["attempt_id"] == room.attempt.pk
    assert body["pending"] == 1  # seq 3 is not analysed yet (the test profile queues after commit)
    assert body["reference"] is None
    latest = body["latest"]
    assert (latest["snapshot_id"], latest["seq"], latest["person_count"]) == (newer.pk, 2, 0)
    assert latest["passed"] is False
    assert latest["report"]["checks"]["person_count"]["guidance"] == {
        "zh": "请坐到画面中，让摄像头拍到您本人",
        "en": "Sit where the camera can see you",
    }
    assert "signature" not in latest["report"]
    assert latest["image_url"] == url("snapshot-image", snapshot_id=newer.pk)


def test_the_latest_analysis_is_refused_outside_ones_rooms(room: Room, other_room: Room) -> None:
    foreign = other_room.client().get(url("attempt-latest-analysis", attempt_id=room.attempt.pk))
    anonymous = Client().get(url("attempt-latest-analysis", attempt_id=room.attempt.pk))

    assert (foreign.status_code, foreign.json()["code"]) == (404, "attempt_not_found")
    assert (anonymous.status_code, anonymous.json()["code"]) == (403, "not_authenticated")


def test_the_endpoints_are_in_the_openapi_schema(room: Room) -> None:
    schema = room.client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = {
        op["operationId"] for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)
    }
    assert {
        "snapshot_image",
        "snapshot_thumbnail",
        "snapshot_reference_approve",
        "attempt_latest_analysis",
    } <= operations
