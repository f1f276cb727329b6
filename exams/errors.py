"""Domain errors of the exam rules. Codes are a public contract (the desktop client switches on them);
messages are bilingual (Chinese first, English in brackets) because candidates read them directly."""

from __future__ import annotations

from config.errors import ApplicationError, NotFoundError


class RuleViolation(ApplicationError):
    """The action is legal in this status but an exam rule refuses it now (time windows, ...)."""

    code = "rule_violation"
    http_status = 409
    default_message = "考试规则不允许此操作 (refused by the exam rules)."


class LoginWindowNotOpen(RuleViolation):
    code = "login_window_not_open"
    default_message = "登录尚未开放：考前30分钟开始登录 (login opens before the start)."


class LoginWindowClosed(RuleViolation):
    code = "login_window_closed"
    default_message = "开考后已超过允许登录时间，无法登录 (login closed after the start)."


class ExamNotStarted(RuleViolation):
    code = "exam_not_started"
    default_message = "考试尚未开始 (the exam has not started yet)."


class ExamOver(RuleViolation):
    code = "exam_over"
    default_message = "考试已结束 (the exam is over)."


class SubmitTooEarly(RuleViolation):
    code = "submit_too_early"
    default_message = "开考后规定时间内不能交卷 (no submission yet in the first minutes)."


class ConsentRequired(RuleViolation):
    code = "consent_required"
    default_message = "请先阅读并同意全程监控说明 (accept the monitoring notice first)."


class NoBreakRequested(RuleViolation):
    code = "no_break_requested"
    default_message = "考生没有待处理的暂离申请 (no pending break request)."


class NotOnBreak(RuleViolation):
    code = "not_on_break"
    default_message = "考生不在暂离中 (the candidate is not on a break)."


class IllegalAction(ApplicationError):
    """The transition table has no such (status, action) pair, or the role may not send it."""

    code = "illegal_action"
    http_status = 409
    default_message = "当前状态下不能执行此操作 (this action is not possible now)."


class AttemptClosed(IllegalAction):
    code = "attempt_closed"
    default_message = "本场考试已结束，不能再次进入 (this attempt is closed; no re-entry)."


class ActionNotAllowed(IllegalAction):
    code = "action_not_allowed"
    http_status = 403
    default_message = "无权执行此操作 (you may not send this action)."


class UnknownAction(IllegalAction):
    code = "unknown_action"
    http_status = 400
    default_message = "未知操作 (unknown action)."


class InvalidActionData(ApplicationError):
    code = "invalid_action_data"
    default_message = "操作参数不正确 (invalid action data)."


class AttemptNotFound(NotFoundError):
    code = "attempt_not_found"
    default_message = "考试记录不存在 (attempt not found)."


class IncidentNotFound(NotFoundError):
    code = "incident_not_found"
    default_message = "异常记录不存在 (incident not found)."


REFUSALS: dict[str, type[IllegalAction]] = {
    "illegal_action": IllegalAction,
    "attempt_closed": AttemptClosed,
    "action_not_allowed": ActionNotAllowed,
    "unknown_action": UnknownAction,
}
