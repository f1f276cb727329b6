"""Account errors with stable codes (the mini-program and desktop client switch on ``code``)."""

from __future__ import annotations

from rest_framework import status

from config.errors import ApplicationError, ConflictError


class BindingFailed(ApplicationError):
    """Any mismatch (unknown ticket, wrong ID number, both): one code, one message, no hint."""

    code = "binding_failed"
    default_message = "准考证号或身份证号不正确 (ticket number or ID number is incorrect)."


class BindingLocked(ApplicationError):
    code = "binding_locked"
    http_status = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = "错误次数过多，请稍后再试 (too many failed attempts, try again later)."


class CandidateAlreadyBound(ConflictError):
    code = "candidate_already_bound"
    default_message = (
        "该考生已绑定其他微信，请联系考务人员解绑 (already bound to another WeChat; ask the exam office)."
    )


class IdentityAlreadyBound(ConflictError):
    code = "identity_already_bound"
    default_message = "此微信已绑定其他考生 (this WeChat account is bound to another candidate)."


class NotBound(ApplicationError):
    code = "not_bound"
    http_status = status.HTTP_403_FORBIDDEN
    default_message = "请先绑定准考证 (bind your admission ticket first)."


class LoginFailed(ApplicationError):
    code = "login_failed"
    http_status = status.HTTP_401_UNAUTHORIZED
    default_message = "准考证号或身份证号不正确 (ticket number or ID number is incorrect)."


class ChooseSession(ConflictError):
    code = "choose_session"
    default_message = "您有多场考试，请选择要进入的考试 (several exams: choose the one to enter)."


class NotRegistered(ApplicationError):
    code = "not_registered"
    http_status = status.HTTP_403_FORBIDDEN
    default_message = "您未报名该场考试，不能进入 (you are not registered for this exam)."


class NoRegistration(ApplicationError):
    code = "no_registration"
    http_status = status.HTTP_403_FORBIDDEN
    default_message = "没有可进入的考试 (no exam to enter)."


class InvalidLoginCode(ApplicationError):
    code = "invalid"
    default_message = "缺少登录凭证 (missing login code)."
