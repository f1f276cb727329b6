"""Every string the phone page shows, in Chinese first with English available, and the monitoring notice.

A bilingual catalogue (like ``monitor.protocol.text``) rather than gettext: the page switches language
without a reload, and the server's own messages (framing guidance, commands) already arrive as
``{"zh", "en"}`` pairs, so the page needs one mechanism only. No Django imports: pure data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Bump when the wording of the notice changes: consent is recorded per version.
NOTICE_VERSION = "2026-11-v1"

UI: dict[str, tuple[str, str]] = {
    "title": ("考试手机监控", "Exam phone monitor"),
    "lang_switch": ("English", "中文"),
    "step_identity": ("第 1 步：确认身份", "Step 1: confirm it is you"),
    "identity_help": (
        "请输入电脑屏幕上二维码旁显示的 4 位确认码。",
        "Enter the 4-digit confirm code shown next to the QR code on your computer.",
    ),
    "identity_help_id": (
        "请输入本人的准考证号和身份证号（与报名信息一致）。",
        "Enter your admission ticket number and ID card number (as registered).",
    ),
    "pairing_code": (
        "配对码（8 位，无法扫码时在电脑上查看）",
        "Pairing code (8 characters, shown on the computer)",
    ),
    "confirm_code": ("确认码", "Confirm code"),
    "pair_button": ("确认配对", "Pair this phone"),
    "use_identity": (
        "没有确认码？改用准考证号和身份证号验证",
        "No confirm code? Use your ticket and ID numbers",
    ),
    "use_code": ("改用电脑上的确认码", "Use the confirm code on the computer"),
    "ticket_number": ("准考证号", "Admission ticket number"),
    "id_number": ("身份证号", "ID card number"),
    "missing_identity": ("请填写准考证号和身份证号", "Enter the ticket number and the ID number"),
    "step_notice": ("第 2 步：监控告知", "Step 2: monitoring notice"),
    "accept_button": ("我已阅读并同意，开始监控", "I have read and accept; start monitoring"),
    "step_camera": ("第 3 步：开启摄像头和麦克风", "Step 3: camera and microphone"),
    "camera_help": (
        "请允许使用摄像头和麦克风，然后把手机放在约 45° 斜侧方的支架上。",
        "Allow the camera and microphone, then put the phone on a stand at about 45° to your side.",
    ),
    "camera_denied": (
        "无法使用摄像头或麦克风。请在浏览器设置中允许后刷新页面。",
        "The camera or microphone is not available. Allow them in the browser settings and reload.",
    ),
    "camera_unsupported": (
        "此浏览器不支持摄像头，请使用系统浏览器或微信小程序。",
        "This browser cannot use the camera; use the system browser or the WeChat mini-program.",
    ),
    "status_connecting": ("正在连接…", "Connecting…"),
    "status_monitoring": ("监控中", "Monitoring"),
    "status_reconnecting": ("网络中断，正在重连…", "Connection lost, reconnecting…"),
    "status_ended": ("考试已结束，可以关闭本页面", "The exam has ended; you may close this page"),
    "status_replaced": (
        "已有其他手机接替监控，本页面已停止",
        "Another phone took over; this page has stopped",
    ),
    "status_auth": ("连接凭证失效，请重新扫描二维码", "The connection expired; scan the QR code again"),
    "status_update": ("页面版本过旧，请刷新", "This page is out of date; reload it"),
    "framing_ok": ("画面合格", "Framing OK"),
    "framing_wait": ("等待画面分析…", "Waiting for framing check…"),
    "queued": ("待上传照片", "Photos waiting to upload"),
    "last_ack": ("已上传", "Uploaded"),
    "sound": ("音量", "Sound"),
    "wake_lock_off": (
        "请保持屏幕常亮，不要锁屏或切换应用。",
        "Keep the screen on; do not lock the phone or switch apps.",
    ),
    "ack_button": ("知道了", "OK"),
    "audio_resume": ("点击此处开启声音监测", "Tap here to turn on sound monitoring"),
    "tip_place": (
        "手机约 45° 斜放在支架上：本人胸部以上到头顶、整个桌面都要在画面里。",
        "Phone on a stand at about 45°: you (chest to top of head) and the whole desk in view.",
    ),
    "tip_power": (
        "请接通充电器，监控中断会影响考试结果。",
        "Keep it charging: a lost feed affects your result.",
    ),
    "tip_screen": (
        "考试结束前不要锁屏、切换应用或关闭本页面。",
        "Until the exam ends, do not lock the screen, switch apps or close this page.",
    ),
    "error_generic": ("出错了，请重试", "Something went wrong; retry"),
    "error_network": ("网络错误，请检查网络后重试", "Network error; check the connection and retry"),
    "missing_code": ("请填写确认码", "Enter the confirm code"),
}


@dataclass(frozen=True)
class NoticeItem:
    zh: str
    en: str


@dataclass(frozen=True)
class MonitoringNotice:
    version: str
    title: dict[str, str]
    items: list[NoticeItem]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def monitoring_notice(*, snapshot_interval_s: int, retention_days: int) -> MonitoringNotice:
    """The notice of the exam rules ("proctors monitor the whole exam: recording, snapshots and sound;
    taking the exam means accepting this"), with this session's numbers: what is kept and how long."""
    n, d = snapshot_interval_s, retention_days
    items = [
        NoticeItem(
            "本场考试全程监控（录像、定时抓拍、声音监测），监考老师可实时查看。参加考试即表示接受监控。",
            "The whole exam is monitored (recording, regular snapshots, sound) and proctors watch live. "
            "Taking the exam means accepting this.",
        ),
        NoticeItem(
            f"本手机每 {n} 秒拍摄一张照片上传；麦克风只上传每 0.1 秒的音量（分贝），不上传声音内容。",
            f"This phone uploads a photo every {n} s; the microphone sends only the loudness every 0.1 s "
            "(dBFS), never the sound itself.",
        ),
        NoticeItem(
            "画面中出现两人及以上或听到交谈，按作弊处理，成绩作废。",
            "Two or more people seen or heard counts as cheating; the result is void.",
        ),
        NoticeItem(
            f"保存的内容：照片、音量记录和考试事件记录，保存 {d} 天后自动删除；有争议的记录保留至处理完毕。",
            f"What is kept: the photos, sound levels and the exam's event log, for {d} days, then deleted "
            "automatically; records under dispute are kept until it is resolved.",
        ),
        NoticeItem(
            "手机放在约 45° 斜侧方的支架上，画面需看到本人胸部以上到头顶以及整个桌面；请接通电源，"
            "考试期间不要锁屏或切换应用。",
            "Put the phone on a stand at about 45° so that you (chest to top of head) and the whole desk "
            "are in view; keep it charging and do not lock the screen or switch apps during the exam.",
        ),
    ]
    return MonitoringNotice(
        version=NOTICE_VERSION,
        title={"zh": "考试全程监控告知", "en": "Exam monitoring notice"},
        items=items,
    )


def ui_catalogue() -> dict[str, dict[str, str]]:
    return {key: {"zh": zh, "en": en} for key, (zh, en) in UI.items()}
