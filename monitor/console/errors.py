"""Refusals of the console, each with a stable code."""

from __future__ import annotations

from config.errors import ApplicationError, NotFoundError, PermissionError_


class ConsoleForbidden(PermissionError_):
    code = "console_forbidden"
    default_message = "无权查看或操作 (not allowed)."


class SessionNotFound(NotFoundError):
    code = "session_not_found"
    default_message = "考试场次不存在 (exam session not found)."


class ChiefRequired(PermissionError_):
    code = "chief_required"
    default_message = "需要主监考权限 (chief proctor role required)."


class ProctorNotInSession(ApplicationError):
    code = "proctor_not_in_session"
    default_message = "该监考员不属于本场考试 (this proctor is not assigned to the session)."


class NoProctors(ApplicationError):
    code = "no_proctors"
    default_message = "本场考试没有监考员 (the session has no proctors)."


class AttemptNotFinished(ApplicationError):
    code = "attempt_not_finished"
    http_status = 409
    default_message = "考试结束后才能复核 (review after the exam only)."


class InvalidVerdict(ApplicationError):
    code = "invalid_verdict"
    default_message = "复核结论无效 (invalid verdict)."


class InvalidCommand(ApplicationError):
    code = "invalid_command"
    default_message = "操作参数不正确 (invalid command)."


class EvidenceMissing(NotFoundError):
    code = "evidence_missing"
    default_message = "图片不存在 (image not found)."
