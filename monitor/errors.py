"""Refusals of the monitor area, each with a stable code (the mini-program and desktop switch on it)."""

from __future__ import annotations

from config.errors import ApplicationError


class PairingError(ApplicationError):
    code = "pairing_error"


class PairingTokenUnknown(PairingError):
    code = "pairing_token_unknown"
    http_status = 404
    default_message = "二维码或配对码无效，请在电脑上刷新后重新扫码 (unknown pairing code)."


class PairingTokenExpired(PairingError):
    code = "pairing_token_expired"
    http_status = 410
    default_message = "二维码已过期，请在电脑上刷新后重新扫码 (pairing code expired)."


class PairingTokenUsed(PairingError):
    code = "pairing_token_used"
    http_status = 409
    default_message = "二维码已被使用，请在电脑上刷新后重新扫码 (pairing code already used)."


class PairingWrongCandidate(PairingError):
    code = "pairing_wrong_candidate"
    http_status = 403
    default_message = "此二维码属于其他考生，请使用本人微信扫码 (this code belongs to another candidate)."


class NotBound(PairingError):
    code = "not_bound"
    http_status = 403
    default_message = "请先绑定准考证号和身份证号 (bind your admission ticket first)."


class ConfirmCodeMismatch(PairingError):
    code = "pairing_confirm_mismatch"
    http_status = 403
    default_message = "确认码不一致，请核对电脑屏幕上的确认码 (confirm code does not match)."


class AttemptNotPairable(PairingError):
    code = "attempt_not_pairable"
    http_status = 409
    default_message = "本场考试已结束或不可配对 (this exam attempt cannot be paired)."


class NotPaired(ApplicationError):
    code = "not_paired"
    http_status = 409
    default_message = "手机尚未与考试配对，请扫描电脑上的二维码 (phone not paired)."


class TicketInvalid(ApplicationError):
    code = "ticket_invalid"
    http_status = 401
    default_message = "连接凭证无效，请重新获取 (WebSocket ticket invalid)."


class TicketExpired(TicketInvalid):
    code = "ticket_expired"
    default_message = "连接凭证已过期，请重新获取 (WebSocket ticket expired)."


class TicketUsed(TicketInvalid):
    code = "ticket_used"
    default_message = "连接凭证已使用，请重新获取 (WebSocket ticket already used)."


class TicketRoleForbidden(ApplicationError):
    code = "ticket_role_forbidden"
    http_status = 403
    default_message = "无权打开此类连接 (not allowed to open this kind of connection)."


class ProctorForbidden(ApplicationError):
    code = "forbidden"
    http_status = 403
    default_message = "您未被分配到该场考试 (not assigned to this exam session)."
