"""The standard reminders of the exam rules (shared/RULES.md), in the words proctors use.

``category`` is the warning category of exams.rules (appearance / camera / conduct): it decides
which counter the reminder adds to (3 uncorrected appearance or camera reminders disqualify).
The Chinese text is what the candidate reads; English is shown when the console runs in English.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phrase:
    code: str
    category: str
    zh: str
    en: str


PHRASES: tuple[Phrase, ...] = (
    Phrase(
        "face_covered",
        "appearance",
        "请勿遮挡面部，保持面部完整可见。",
        "Do not cover your face; keep it fully visible.",
    ),
    Phrase(
        "headphones",
        "appearance",
        "考试中禁止佩戴耳机，请摘下耳机并露出双耳。",
        "No headphones: take them off, both ears visible.",
    ),
    Phrase(
        "mask",
        "appearance",
        "考试中禁止佩戴口罩，请摘下口罩。",
        "No mask during the exam: please take it off.",
    ),
    Phrase(
        "hat", "appearance", "考试中禁止戴帽子，请摘下帽子。", "No hat during the exam: please take it off."
    ),
    Phrase("ears", "appearance", "请露出双耳。", "Keep both ears visible."),
    Phrase(
        "out_of_frame",
        "camera",
        "请回到监控画面内，保持胸部以上至头顶完整入镜。",
        "Stay in view: chest up to the top of your head.",
    ),
    Phrase(
        "phone_position",
        "camera",
        "请调整手机位置：约45°侧方，拍到本人及整个桌面。",
        "Move the phone: about 45° to your side, you and the whole desk in view.",
    ),
    Phrase(
        "backlight",
        "camera",
        "画面逆光，请调整光线或座位方向。",
        "Backlit picture: change the lighting or your seat.",
    ),
    Phrase("camera_covered", "camera", "请勿遮挡摄像头。", "Do not cover the camera."),
    Phrase("virtual_camera", "camera", "禁止使用虚拟摄像头。", "Virtual cameras are not allowed."),
    Phrase("talking", "conduct", "考试期间禁止与他人交谈。", "No talking to anyone during the exam."),
    Phrase(
        "other_person",
        "conduct",
        "考试环境只允许考生本人在场，请其他人离开。",
        "Only you may be in the room: others must leave.",
    ),
    Phrase(
        "materials",
        "conduct",
        "桌面上禁止放置资料、手机、手表等物品。",
        "No materials, phones or watches on the desk.",
    ),
    Phrase("quiet", "conduct", "请保持考试环境安静。", "Keep the room quiet."),
)

BY_CODE: dict[str, Phrase] = {p.code: p for p in PHRASES}
