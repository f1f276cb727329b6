"""Bilingual reasons and set-up guidance, one entry per check outcome.

Kept as plain data (no Django gettext) because the checks are pure and run outside Django
(`check_framing`, benchmarks). Every entry is (Chinese, English); the phone shows the Chinese line
first. Keys are stable: the realtime layer and the mini-program may switch on them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


# Why a check failed (for proctors and the report).
REASONS: dict[str, Text] = {
    "no_person": Text("画面中未检测到考生", "No candidate detected in the picture"),
    "multiple_people": Text("画面中检测到两人或以上", "Two or more people detected in the picture"),
    "head_cut": Text("头顶不在画面内", "The top of the head is outside the picture"),
    "chest_cut": Text("胸部和肩膀不在画面内", "Chest and shoulders are outside the picture"),
    "desk_missing": Text("画面中看不到桌面", "The desk is not in view"),
    "too_dark": Text("光线过暗", "The picture is too dark"),
    "overexposed": Text("画面过亮（曝光过度）", "The picture is overexposed"),
    "backlit": Text("逆光：背景过亮、人物过暗", "Backlit: bright background, dark candidate"),
    "blurred": Text("画面模糊", "The picture is blurred"),
    "blocked": Text("摄像头被遮挡", "The camera appears to be covered"),
    "frozen": Text("画面静止不变，疑似画面冻结或虚拟摄像头", "The picture does not change (frozen feed)"),
    "scene_drift": Text(
        "画面与确认的参考画面不一致，手机可能被移动", "The view differs from the approved reference"
    ),
    "orientation": Text("请将手机竖放或横放保持稳定", "Keep the phone steady in one orientation"),
}

# What the candidate should do (pushed to the phone during set-up).
GUIDANCE: dict[str, Text] = {
    "no_person": Text("请坐到画面中，让摄像头拍到您本人", "Sit where the camera can see you"),
    "multiple_people": Text("考试期间画面中只能有考生本人", "Only the candidate may be in the picture"),
    "head_cut": Text(
        "请将手机后移或调高角度，使头顶完整入镜",
        "Move the phone back or tilt it up so the top of your head is in view",
    ),
    "chest_cut": Text(
        "请将手机后移，使胸部和肩膀入镜", "Move the phone back so your chest and shoulders are in view"
    ),
    "desk_missing": Text("请调整手机角度，使整个桌面入镜", "Angle the phone so the whole desk is in view"),
    "too_dark": Text("光线过暗，请打开灯", "Too dark: please turn on a light"),
    "overexposed": Text("光线过强，请避开直射光", "Too bright: avoid direct light on the camera"),
    "backlit": Text("逆光，请不要背对窗户或灯光", "Backlit: do not sit with a window or lamp behind you"),
    "blurred": Text("画面模糊，请擦拭镜头并固定手机", "Blurred: clean the lens and keep the phone still"),
    "blocked": Text("摄像头被遮挡，请移开遮挡物", "The camera is covered: remove what blocks it"),
    "frozen": Text("画面未更新，请检查摄像头", "The picture is not updating: check the camera"),
    "scene_drift": Text(
        "手机位置发生变化，请恢复到确认时的位置", "The phone has moved: put it back where it was approved"
    ),
    "orientation": Text("请保持手机方向不变", "Keep the phone in the same orientation"),
}

ALL_GOOD = Text("画面符合要求", "The picture meets the requirements")
