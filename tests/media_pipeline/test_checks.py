"""The pure checks on real photographs and on variants whose labels follow by construction."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from media_pipeline.audio import AudioThresholds, analyse_levels, clamp_levels, decode_levels, encode_levels
from media_pipeline.checks import (
    Box,
    Detection,
    HaarPersonDetector,
    Thresholds,
    YuNetDetector,
    analyse_frame,
    default_detector,
    detector_create,
)
from media_pipeline.checks.image import UndecodableImage
from media_pipeline.evaluation.build import scale_luma
from media_pipeline.flags import frame_flags
from tests.media_pipeline import images


def test_a_chest_up_portrait_passes_the_framing_checks() -> None:
    report = analyse_frame(images.photo_jpeg("astronaut"))
    assert report.person_count == 1
    assert report.flag("head_top_visible") is True
    assert report.flag("chest_visible") is True
    for problem in ("too_dark", "overexposed", "backlit", "blurred", "blocked", "frozen"):
        assert report.flag(problem) is False, problem
    assert report.checks["person_count"].reason == {
        "zh": "画面符合要求",
        "en": "The picture meets the requirements",
    }


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea"])
def test_photos_without_people_count_nobody(name: str) -> None:
    report = analyse_frame(images.photo_jpeg(name))
    assert report.person_count == 0
    assert "person_count" in report.failing
    assert report.checks["person_count"].guidance == {
        "zh": "请坐到画面中，让摄像头拍到您本人",
        "en": "Sit where the camera can see you",
    }


def test_a_crop_through_the_forehead_fails_head_top_with_guidance() -> None:
    img = images.bgr("astronaut", 512)[15 + 54 :]  # the astronaut's hair starts at row 15, chin at 150
    report = analyse_frame(images.jpeg(img))
    assert report.flag("head_top_visible") is False
    assert report.checks["head_top_visible"].guidance == {
        "zh": "请将手机后移或调高角度，使头顶完整入镜",
        "en": "Move the phone back or tilt it up so the top of your head is in view",
    }


def test_a_crop_under_the_chin_fails_chest() -> None:
    img = images.bgr("grace_hopper", 512)[: 300 + 70]
    report = analyse_frame(images.jpeg(img))
    assert report.person_count == 1
    assert report.flag("chest_visible") is False


def test_two_people_side_by_side_are_counted_as_two() -> None:
    left = cv2.resize(images.bgr("astronaut"), (320, 400))
    right = cv2.resize(images.bgr("grace_hopper"), (320, 400))
    report = analyse_frame(np.hstack([left, right]))
    assert report.person_count == 2
    assert frame_flags(report.as_dict())[0].kind == "multiple_people"


def test_darkened_overexposed_and_blurred_variants() -> None:
    base = images.bgr("astronaut")
    dark = analyse_frame(scale_luma(base, 0.2))
    assert dark.flag("too_dark") is True
    assert dark.checks["too_dark"].guidance == {
        "zh": "光线过暗，请打开灯",
        "en": "Too dark: please turn on a light",
    }
    assert analyse_frame(scale_luma(base, 2.6, 70)).flag("overexposed") is True
    assert analyse_frame(cv2.GaussianBlur(base, (0, 0), 4)).flag("blurred") is True
    assert analyse_frame(scale_luma(base, 0.7)).flag("too_dark") is False


def test_a_blown_out_window_behind_a_dark_candidate_is_backlit() -> None:
    lit = scale_luma(images.bgr("grace_hopper"), 0.38)
    lit[:, :210] = 252
    report = analyse_frame(lit)
    assert report.flag("backlit") is True
    assert report.flag("overexposed") is False


def test_a_covered_lens_is_blocked_and_a_dark_room_is_not() -> None:
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    gradient = 40 + 100 * (xx / 640)
    finger = np.dstack([gradient * 0.5, gradient * 0.65, gradient]).astype(np.uint8)
    assert analyse_frame(finger).flag("blocked") is True
    assert analyse_frame(scale_luma(images.bgr("coffee"), 0.2)).flag("blocked") is False


def test_frozen_feed_needs_repeated_identical_frames() -> None:
    data = images.photo_jpeg("astronaut")
    first = analyse_frame(data)
    second = analyse_frame(data, previous=[first.signature])
    third = analyse_frame(data, previous=[second.signature, first.signature])
    assert second.flag("frozen") is False  # one repeat is not yet a frozen feed
    assert third.flag("frozen") is True
    moved = cv2.warpAffine(
        images.bgr("astronaut"), np.array([[1, 0, 8], [0, 1, 4]], dtype=np.float32), (640, 640)
    )
    assert analyse_frame(moved, previous=[second.signature, first.signature]).flag("frozen") is False


def test_scene_drift_against_the_reference() -> None:
    ref = analyse_frame(images.photo_jpeg("grace_hopper")).signature
    fallen = cv2.rotate(images.bgr("grace_hopper"), cv2.ROTATE_90_CLOCKWISE)
    assert analyse_frame(fallen, reference=ref).flag("scene_drift") is True
    relit = scale_luma(images.bgr("grace_hopper"), 1.2, 10)
    assert analyse_frame(relit, reference=ref).flag("scene_drift") is False
    assert "scene_drift" not in analyse_frame(relit).checks  # no reference: not checked


def test_the_detector_is_injected() -> None:
    class TwoHeads:
        name = "fake"

        def detect(self, gray: np.ndarray, bgr: np.ndarray) -> list[Detection]:
            return [
                Detection(Box(10, 100, 50, 50), "fake", 1.0),
                Detection(Box(300, 100, 50, 50), "fake", 1.0),
            ]

    report = analyse_frame(images.photo_jpeg("coffee"), detector=TwoHeads())
    assert report.person_count == 2
    assert report.detector == "fake"


HAS_YUFACE = importlib.util.find_spec("yuface") is not None  # pinned for Python 3.11 only
needs_yuface = pytest.mark.skipif(not HAS_YUFACE, reason="yuface publishes a cp311 wheel only")


def test_the_default_detector_is_yunet_where_its_wheel_exists_and_haar_is_the_fallback() -> None:
    assert default_detector().name == ("yunet" if HAS_YUFACE else "haar-frontal-profile")
    assert isinstance(detector_create("haar"), HaarPersonDetector)
    with pytest.raises(ValueError, match="unknown detector"):
        detector_create("mtcnn")


def test_the_haar_fallback_still_frames_a_portrait() -> None:
    report = analyse_frame(images.photo_jpeg("grace_hopper"), detector=HaarPersonDetector())
    assert report.detector == "haar-frontal-profile"
    assert report.person_count == 1
    assert report.flag("head_top_visible") is True and report.flag("chest_visible") is True


@needs_yuface
def test_yunet_sees_a_face_half_hidden_behind_a_camera() -> None:
    # scikit-image's camera.png: the photographer's eye is at the viewfinder. Haar finds nobody.
    data = images.photo_jpeg("camera")
    assert analyse_frame(data, detector=HaarPersonDetector()).person_count == 0
    report = analyse_frame(data, detector=YuNetDetector())
    assert report.person_count == 1
    assert report.flag("head_top_visible") is True


@needs_yuface
def test_a_face_cut_by_the_top_edge_is_clipped_and_reads_as_head_cut() -> None:
    # From mid-forehead down (hair starts at row 20, chin at 300): YuNet's box reaches above the
    # picture; the part inside is kept, so the box starts at the top edge.
    img = images.bgr("grace_hopper", 512)[20 + 130 :]
    report = analyse_frame(images.jpeg(img), detector=YuNetDetector())
    assert report.person_count == 1
    (det,) = report.detections
    assert det.box.y == 0 and det.box.x >= 0
    assert report.checks["head_top_visible"].score == 0.0
    assert report.flag("head_top_visible") is False


def test_thresholds_come_from_settings_shaped_mappings() -> None:
    t = Thresholds.from_mapping({"too_dark_mean": 200.0})
    assert analyse_frame(images.photo_jpeg("astronaut"), thresholds=t).flag("too_dark") is True
    with pytest.raises(ValueError, match="unknown thresholds"):
        Thresholds.from_mapping({"nope": 1})


def test_undecodable_bytes_raise() -> None:
    with pytest.raises(UndecodableImage):
        analyse_frame(b"\xff\xd8\xff" + b"\x00" * 50)


def test_flags_map_report_checks_onto_incident_kinds() -> None:
    def report(person_count: int, **values: object) -> dict[str, object]:
        return {"person_count": person_count, "checks": {k: {"value": v} for k, v in values.items()}}

    assert [f.kind for f in frame_flags(report(1, head_top_visible=True))] == []
    assert [f.kind for f in frame_flags(report(0))] == ["out_of_frame"]
    assert [f.kind for f in frame_flags(report(1, head_top_visible=False, backlit=True))] == [
        "head_cut",
        "backlight",
    ]
    assert [(f.kind, f.severity) for f in frame_flags(report(2, frozen=True))] == [
        ("multiple_people", 3),
        ("frozen_feed", 2),
    ]
    # a covered lens explains the rest (no person, too dark): one flag
    assert [f.kind for f in frame_flags(report(0, blocked=True, too_dark=True))] == ["camera_covered"]


# --- audio ---------------------------------------------------------------------------------------


def test_levels_are_clamped_and_round_trip_as_signed_bytes() -> None:
    clamped = clamp_levels([-300.0, -42.6, 5.0, float("nan")])
    assert clamped == [-127, -43, 0, -127]
    assert decode_levels(encode_levels(clamped)) == clamped
    assert len(encode_levels(clamped)) == 4


def test_sustained_speech_is_a_window_and_a_cough_is_not() -> None:
    t = AudioThresholds()
    quiet, speech = [-60.0] * 20, [-30.0] * 20
    cough = [-60.0] * 10 + [-20.0] * 3 + [-60.0] * 10
    report = analyse_levels(quiet + speech + quiet + cough, interval_ms=100, candidate_present=True, t=t)
    assert [(w.start_ms, w.end_ms) for w in report.windows] == [(2000, 4000)]
    assert report.voices_while_absent is False


def test_voices_while_nobody_is_in_view_are_flagged() -> None:
    t = AudioThresholds()
    levels = [-30.0] * 30
    assert analyse_levels(levels, interval_ms=100, candidate_present=False, t=t).voices_while_absent is True
    assert analyse_levels(levels, interval_ms=100, candidate_present=None, t=t).voices_while_absent is False


def test_two_voices_taking_turns_at_different_loudness_are_likely() -> None:
    t = AudioThresholds()
    near, far = [-25.0] * 10, [-38.0] * 10  # the candidate close to the phone, someone across the room
    conversation = (near + far) * 4
    monologue = [-25.0 - (i % 3) for i in range(80)]
    assert analyse_levels(conversation, interval_ms=100, candidate_present=True, t=t).multiple_voices is True
    assert analyse_levels(monologue, interval_ms=100, candidate_present=True, t=t).multiple_voices is False
