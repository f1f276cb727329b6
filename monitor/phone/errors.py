"""Refusals of the phone-browser page, each with a stable code (the page switches on it)."""

from __future__ import annotations

from config.errors import ApplicationError


class BrowserNotPaired(ApplicationError):
    code = "browser_not_paired"
    http_status = 409
    default_message = (
        "此浏览器尚未配对，请重新扫描电脑上的二维码 (this browser is not paired; scan the QR code again)."
    )


class DeviceReplaced(ApplicationError):
    code = "device_revoked"
    http_status = 409
    default_message = "已有其他手机接替监控，本页面已停止 (another phone took over monitoring)."


class ConsentRequired(ApplicationError):
    code = "consent_required"
    http_status = 409
    default_message = "请先阅读并同意监控告知 (accept the monitoring notice first)."


class NoticeOutdated(ApplicationError):
    code = "notice_outdated"
    http_status = 409
    default_message = (
        "监控告知已更新，请刷新页面后重新阅读 (the notice changed; reload the page and read it again)."
    )


class CsrfFailed(ApplicationError):
    code = "csrf_failed"
    http_status = 403
    default_message = "页面已过期，请刷新后重试 (the page expired; reload and retry)."


class IdentityMismatch(ApplicationError):
    """Any mismatch (unknown ticket, wrong ID number, malformed either): one code, no hint."""

    code = "identity_mismatch"
    http_status = 403
    default_message = "准考证号或身份证号不正确 (ticket number or ID number is incorrect)."
