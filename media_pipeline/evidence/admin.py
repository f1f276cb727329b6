"""Admin pages: export jobs with progress, session exports and results reports, attempt exports
and legal hold, data-subject requests, purge runs. Actions only translate I/O and call services."""

from __future__ import annotations

import io
import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from media_pipeline.evidence import services
from media_pipeline.evidence.models import (
    AttemptEvidence,
    CandidatePrivacy,
    ExportJob,
    MonitoringConsent,
    PurgeRecord,
    SessionEvidence,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records and audit data: nobody edits them by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _actor(request: HttpRequest) -> services.Actor:
    return services.Actor.of_user(request.user)


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "scope",
        "session",
        "attempt",
        "status",
        "progress_bar",
        "size_bytes",
        "requested_by_label",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "scope"]
    readonly_fields = [f.name for f in ExportJob._meta.fields]
    actions = ["download_link", "retry"]

    @admin.display(description=_("进度"))
    def progress_bar(self, obj: ExportJob) -> str:
        return format_html('<progress max="100" value="{}"></progress> {}%', obj.progress, obj.progress)

    @admin.action(description=_("生成短时下载链接"))
    def download_link(self, request: HttpRequest, queryset: QuerySet[ExportJob]) -> None:
        for job in queryset:
            try:
                link = services.export_link_create(job_id=job.pk, actor=_actor(request))
            except ApplicationError as exc:
                self.message_user(request, f"export {job.pk}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request,
                format_html(
                    '证据包 {}：<a href="{}">下载</a>（{} 前有效）',
                    job.pk,
                    link.url,
                    f"{link.expires_at:%H:%M:%S}",
                ),
                messages.SUCCESS,
            )

    @admin.action(description=_("重新生成失败的导出"))
    def retry(self, request: HttpRequest, queryset: QuerySet[ExportJob]) -> None:
        from config.taskqueue import enqueue_on_commit
        from media_pipeline.evidence.tasks import export_build

        for job in queryset.filter(status=ExportJob.Status.FAILED):
            enqueue_on_commit(export_build, job.pk)
            self.message_user(request, f"export {job.pk} queued again")


def _results_response(request: HttpRequest, session_id: int, fmt: str) -> HttpResponse:
    out = io.BytesIO()
    services.results_report_write(session_id=session_id, fmt=fmt, out=out, actor=_actor(request))
    content_type = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response = HttpResponse(out.getvalue(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="results-session-{session_id}.{fmt}"'
    return response


@admin.register(SessionEvidence)
class SessionEvidenceAdmin(ReadOnlyAdmin):
    list_display = ["id", "subject", "level", "kind", "starts_at", "ends_at", "retention_days"]
    list_filter = ["kind", "level", "subject"]
    actions = ["export_bundle", "results_csv", "results_xlsx"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("evidence.view_exportjob"))

    @admin.action(description=_("导出证据包（签名 ZIP）"))
    def export_bundle(self, request: HttpRequest, queryset: QuerySet[SessionEvidence]) -> None:
        for session in queryset:
            job = services.export_job_create(actor=_actor(request), session_id=session.pk)
            self.message_user(request, f"证据包 {job.pk} 已排队 (export {job.pk} queued)")

    def _one(
        self, request: HttpRequest, queryset: QuerySet[SessionEvidence], fmt: str
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "请只选择一个场次 (select exactly one session).", messages.ERROR)
            return None
        return _results_response(request, queryset.get().pk, fmt)

    @admin.action(description=_("成绩报告 CSV"))
    def results_csv(self, request: HttpRequest, queryset: QuerySet[SessionEvidence]) -> HttpResponse | None:
        return self._one(request, queryset, "csv")

    @admin.action(description=_("成绩报告 XLSX"))
    def results_xlsx(self, request: HttpRequest, queryset: QuerySet[SessionEvidence]) -> HttpResponse | None:
        return self._one(request, queryset, "xlsx")


@admin.register(AttemptEvidence)
class AttemptEvidenceAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "candidate_ticket",
        "candidate_name",
        "session",
        "status",
        "legal_hold",
        "monitoring_consent_at",
    ]
    list_filter = ["legal_hold", "status"]
    search_fields = ["candidate__ticket_number", "candidate__name"]
    list_select_related = ["candidate", "session", "session__subject"]
    actions = ["export_bundle", "hold", "release"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("evidence.view_exportjob"))

    @admin.display(description=_("准考证号"))
    def candidate_ticket(self, obj: AttemptEvidence) -> str:
        return obj.candidate.ticket_number

    @admin.display(description=_("姓名"))
    def candidate_name(self, obj: AttemptEvidence) -> str:
        return obj.candidate.name

    @admin.action(description=_("导出该考生证据包"))
    def export_bundle(self, request: HttpRequest, queryset: QuerySet[AttemptEvidence]) -> None:
        for attempt in queryset:
            job = services.export_job_create(actor=_actor(request), attempt_id=attempt.pk)
            self.message_user(request, f"证据包 {job.pk} 已排队 (export {job.pk} queued)")

    @admin.action(description=_("设置法律保全（保留期清理跳过）"))
    def hold(self, request: HttpRequest, queryset: QuerySet[AttemptEvidence]) -> None:
        for attempt in queryset:
            services.legal_hold_set(attempt_id=attempt.pk, hold=True, actor=_actor(request))

    @admin.action(description=_("解除法律保全"))
    def release(self, request: HttpRequest, queryset: QuerySet[AttemptEvidence]) -> None:
        for attempt in queryset:
            services.legal_hold_set(attempt_id=attempt.pk, hold=False, actor=_actor(request))


@admin.register(CandidatePrivacy)
class CandidatePrivacyAdmin(ReadOnlyAdmin):
    list_display = ["id", "ticket_number", "name", "id_number_masked", "created_at"]
    search_fields = ["ticket_number", "name"]
    # Never the encrypted ID number or its hash, not even read-only.
    fields = ["ticket_number", "name", "id_number_masked", "created_at"]
    readonly_fields = ["ticket_number", "name", "id_number_masked", "created_at"]
    actions = ["export_data", "delete_data"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("evidence.handle_data_request"))

    @admin.action(description=_("导出个人数据（给考生本人）"))
    def export_data(self, request: HttpRequest, queryset: QuerySet[CandidatePrivacy]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "请只选择一名考生 (select exactly one candidate).", messages.ERROR)
            return None
        candidate = queryset.get()
        result = services.candidate_data_export(ticket_number=candidate.ticket_number, actor=_actor(request))
        body = json.dumps(result.data, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="candidate-{candidate.pk}-data.json"'
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("删除个人数据（应本人要求）"))
    def delete_data(self, request: HttpRequest, queryset: QuerySet[CandidatePrivacy]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "evidence/confirm_delete.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "确认删除考生个人数据",
                    "candidates": queryset,
                    "action": "delete_data",
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        for candidate in queryset:
            try:
                counts = services.candidate_data_delete(
                    ticket_number=candidate.ticket_number, actor=_actor(request)
                )
            except ApplicationError as exc:
                self.message_user(request, f"{candidate.ticket_number}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request, f"已删除 (deleted): {counts.snapshots} snapshots, {counts.files_deleted} files"
            )
        return None


@admin.register(PurgeRecord)
class PurgeRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "started_at",
        "finished_at",
        "actor",
        "dry_run",
        "attempt_count",
        "held_count",
        "counts",
    ]
    list_filter = ["dry_run"]
    readonly_fields = [f.name for f in PurgeRecord._meta.fields]
    change_list_template = "evidence/purge_changelist.html"

    @admin.display(description=_("清理考试记录数"))
    def attempt_count(self, obj: PurgeRecord) -> int:
        return len(obj.attempt_ids)

    @admin.display(description=_("保全跳过数"))
    def held_count(self, obj: PurgeRecord) -> int:
        return len(obj.held_attempt_ids)

    def get_urls(self) -> list[Any]:
        return [
            path("run/", self.admin_site.admin_view(self.run_view), name="evidence_purgerecord_run"),
            *super().get_urls(),
        ]

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm("evidence.add_purgerecord"):
            return HttpResponse(status=405 if request.method != "POST" else 403)
        dry_run = request.POST.get("dry_run") == "1"
        record = services.evidence_purge(actor=_actor(request), dry_run=dry_run)
        plan_note = "" if not dry_run else f"（演练）将清理 {len(record.attempt_ids)} 个考试记录"
        self.message_user(request, f"清理记录 {record.pk} {plan_note} {record.counts}")
        return HttpResponseRedirect(reverse("admin:evidence_purgerecord_change", args=[record.pk]))


@admin.register(MonitoringConsent)
class MonitoringConsentAdmin(ReadOnlyAdmin):
    list_display = ["attempt", "notice_version", "accepted_at"]
    search_fields = ["attempt__candidate__ticket_number"]
