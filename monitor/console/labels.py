"""Display labels for stable wire values (statuses, incident kinds, event kinds). The values are
never translated; these labels are (Chinese source strings, English in locale/en)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _

from exams.state_machine import STATUS_LABELS
from monitor.console.phrases import PHRASES

KIND_LABELS: dict[str, Any] = {
    # incident kinds (exams.rules.INCIDENT_CATEGORY)
    "face_covered": gettext_lazy("面部遮挡"),
    "headphones": gettext_lazy("佩戴耳机"),
    "mask": gettext_lazy("佩戴口罩"),
    "hat": gettext_lazy("戴帽子"),
    "out_of_frame": gettext_lazy("离开画面"),
    "backlight": gettext_lazy("逆光"),
    "camera_covered": gettext_lazy("遮挡摄像头"),
    "virtual_camera": gettext_lazy("虚拟摄像头"),
    "multiple_people": gettext_lazy("多人出现"),
    "multiple_voices": gettext_lazy("多人说话"),
    "voices_while_absent": gettext_lazy("离开画面时有人声"),
    "talking": gettext_lazy("交谈"),
    "left_without_permission": gettext_lazy("擅自离开"),
    # live conditions
    "break_requested": gettext_lazy("申请暂离"),
    "focus_lost": gettext_lazy("离开考试界面"),
    "device_lost": gettext_lazy("设备断开"),
    "phone_lost": gettext_lazy("手机监控断开"),
    "phone_restored": gettext_lazy("手机监控恢复"),
    "phone_paired": gettext_lazy("手机已配对"),
    "phone_replaced": gettext_lazy("更换了手机"),
    "loud_audio": gettext_lazy("声音过大"),
    "flag": gettext_lazy("画面异常"),
    # events
    "consent": gettext_lazy("同意监控说明"),
    "check_in": gettext_lazy("登录签到"),
    "start": gettext_lazy("开始答题"),
    "focus_regained": gettext_lazy("返回考试界面"),
    "break_request": gettext_lazy("申请暂离"),
    "break_approve": gettext_lazy("批准暂离"),
    "break_deny": gettext_lazy("拒绝暂离"),
    "break_return": gettext_lazy("暂离返回"),
    "submit": gettext_lazy("交卷"),
    "warn": gettext_lazy("提醒"),
    "warning_ack": gettext_lazy("考生已确认提醒"),
    "warning_correct": gettext_lazy("已纠正"),
    "desktop_lost": gettext_lazy("考试端断开"),
    "desktop_restored": gettext_lazy("考试端恢复"),
    "force_submit": gettext_lazy("强制交卷"),
    "disqualify": gettext_lazy("取消资格"),
    "incident_confirm": gettext_lazy("确认异常"),
    "incident_dismiss": gettext_lazy("驳回异常"),
    "leave_timeout": gettext_lazy("离屏超时"),
    "break_timeout": gettext_lazy("暂离超时"),
    "device_timeout": gettext_lazy("设备断开超时"),
    "time_up": gettext_lazy("考试时间到"),
    "mark_absent": gettext_lazy("缺考"),
    "proctor_message": gettext_lazy("监考消息"),
    "incident_opened": gettext_lazy("发现异常"),
    "incident_ended": gettext_lazy("异常结束"),
    "incident_extended": gettext_lazy("异常持续"),
    "monitoring_indicator": gettext_lazy("监控提示显示"),
    "attempt_reassign": gettext_lazy("重新分配监考员"),
    "attempts_split": gettext_lazy("分配考生"),
    "review_verdict": gettext_lazy("复核结论"),
}

CATEGORY_LABELS: dict[str, Any] = {
    "appearance": gettext_lazy("仪容"),
    "camera": gettext_lazy("画面"),
    "conduct": gettext_lazy("行为"),
}

PHONE_LABELS: dict[str, Any] = {
    "unpaired": gettext_lazy("未配对"),
    "paired": gettext_lazy("已配对"),
    "online": gettext_lazy("在线"),
    "lost": gettext_lazy("断开"),
}

SEVERITY_LABELS: dict[int, Any] = {1: gettext_lazy("提示"), 2: gettext_lazy("警告"), 3: gettext_lazy("严重")}


def kind_label(kind: str) -> str:
    if kind.startswith("command:"):
        kind = kind.split(":", 1)[1]
        kind = {
            "approve_break": "break_approve",
            "deny_break": "break_deny",
            "message": "proctor_message",
        }.get(kind, kind)
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else kind


def js_labels() -> dict[str, Any]:
    """Everything the console's JavaScript displays, in the active language (no secrets)."""
    english = (get_language() or "").startswith("en")
    return {
        "status": {str(k): str(v) for k, v in STATUS_LABELS.items()},
        "kind": {k: str(v) for k, v in KIND_LABELS.items()},
        "category": {k: str(v) for k, v in CATEGORY_LABELS.items()},
        "phone": {k: str(v) for k, v in PHONE_LABELS.items()},
        "severity": {str(k): str(v) for k, v in SEVERITY_LABELS.items()},
        # Who did it, in the timeline (staff appear by name: monitor.console.selectors).
        "actor": {
            "system": pgettext("timeline actor", "系统"),
            "candidate": pgettext("timeline actor", "考生"),
            "phone": pgettext("timeline actor", "手机"),
        },
        "phrases": [
            {"code": p.code, "category": p.category, "text": p.en if english else p.zh, "zh": p.zh}
            for p in PHRASES
        ],
        "ui": {
            "connected": _("实时连接正常"),
            "connecting": _("正在连接…"),
            "disconnected": _("连接断开，正在重连…"),
            "ack": _("考生已确认"),
            "sent": _("已发送"),
            "failed": _("操作失败"),
            "no_alerts": _("暂无告警"),
            "no_image": _("暂无画面"),
            "confirm_force": _("确定强制交卷？此操作不可撤销。"),
            "confirm_disqualify": _("确定取消该考生资格？此操作不可撤销。"),
            "reason_required": _("请填写原因"),
            "warning_sent": _("提醒已发送，等待考生确认"),
        },
    }
