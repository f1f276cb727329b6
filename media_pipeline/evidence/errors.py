"""Domain errors of the evidence area (stable codes; messages in Chinese with English)."""

from __future__ import annotations

from rest_framework import status

from config.errors import ApplicationError, ConflictError


class ExportNotReady(ConflictError):
    code = "export_not_ready"
    default_message = "证据包尚未生成完成 (the evidence bundle is not ready)."


class ExportScopeInvalid(ApplicationError):
    code = "export_scope_invalid"
    default_message = "请指定考试场次或考试记录之一 (give exactly one of session or attempt)."


class DownloadLinkInvalid(ApplicationError):
    code = "download_link_invalid"
    http_status = status.HTTP_403_FORBIDDEN
    default_message = "下载链接无效或已过期 (the download link is invalid or has expired)."


class LegalHold(ConflictError):
    code = "legal_hold"
    default_message = (
        "该考生的记录处于法律保全或争议中，不能删除 (under legal hold or disputed; not deleted)."
    )


class CandidateNotFound(ApplicationError):
    code = "candidate_not_found"
    http_status = status.HTTP_404_NOT_FOUND
    default_message = "考生不存在 (candidate not found)."


class ReportFormatInvalid(ApplicationError):
    code = "report_format_invalid"
    default_message = "报告格式应为 csv 或 xlsx (the report format must be csv or xlsx)."


class NoticeVersionInvalid(ApplicationError):
    code = "notice_version_invalid"
    default_message = "监控告知书版本无效 (invalid monitoring notice version)."
