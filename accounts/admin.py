"""Django admin for accounts: candidates (with CSV/XLSX import and audited unbinding), WeChat
identities, staff users and the audit trail. Thin: every write goes through accounts.services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.forms import CandidateImportForm
from accounts.importing import ImportFileInvalid, candidates_import
from accounts.models import AccountAuditEntry, Candidate, User, WechatIdentity


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    list_display = ("username", "first_name", "last_name", "is_staff", "is_active")
    list_filter = ("groups", "is_staff", "is_active")


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    change_list_template = "admin/accounts/candidate/change_list.html"
    list_display = ("ticket_number", "name", "id_number_masked", "bound", "created_at")
    search_fields = ("ticket_number", "name")
    # The hash and ciphertext are never shown; the masked form is what people see.
    fields = ("ticket_number", "name", "id_number_masked", "photo", "created_at", "updated_at")
    readonly_fields = ("ticket_number", "id_number_masked", "created_at", "updated_at")
    actions = ["unbind_wechat"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # candidates come from the import (validated, hashed, encrypted)

    @admin.display(boolean=True, description=_("已绑定微信"))
    def bound(self, obj: Candidate) -> bool:
        return WechatIdentity.objects.filter(candidate=obj).exists()

    @admin.action(description=_("解除微信绑定（可重新绑定，留审计记录）"), permissions=["change"])
    def unbind_wechat(self, request: HttpRequest, queryset: QuerySet[Candidate]) -> None:
        released = 0
        for candidate in queryset:
            if services.candidate_unbind(candidate=candidate, actor=request.user, reason="admin action"):
                released += 1
        self.message_user(
            request, _("已解除 %(n)d 个绑定 (%(n)d unbound).") % {"n": released}, messages.SUCCESS
        )

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="accounts_candidate_import",
            )
        ]
        return custom + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request) or not request.user.has_perm("accounts.add_candidate"):
            return HttpResponseRedirect(reverse("admin:accounts_candidate_changelist"))
        report = None
        form = CandidateImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = candidates_import(
                    stream=upload.file,
                    filename=upload.name,
                    dry_run=form.cleaned_data["dry_run"],
                    actor=f"user:{request.user.pk}:{request.user.get_username()}",
                )
            except ImportFileInvalid as exc:
                form.add_error("file", f"{exc.code}: {exc.message}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("导入考生与报名 (import candidates and registrations)"),
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/accounts/candidate/import.html", context)


@admin.register(WechatIdentity)
class WechatIdentityAdmin(admin.ModelAdmin):
    list_display = ("pk", "openid", "candidate", "bound_at", "last_login_at")
    search_fields = ("openid", "candidate__ticket_number")
    # session_key_encrypted is never shown; binding changes only through the audited action.
    fields = ("openid", "unionid", "candidate", "bound_at", "created_at", "last_login_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AccountAuditEntry)
class AccountAuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "target")
    list_filter = ("action",)
    search_fields = ("actor", "target")
    readonly_fields = ("at", "actor", "actor_user", "action", "target", "details")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
