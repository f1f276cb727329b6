from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitor.console.models import ProctorActionAudit, ReviewVerdict


@admin.register(ReviewVerdict)
class ReviewVerdictAdmin(admin.ModelAdmin):
    list_display = ("attempt", "verdict", "reviewer", "at")
    list_filter = ("verdict",)
    readonly_fields = ("attempt", "reviewer", "verdict", "notes", "at")


@admin.register(ProctorActionAudit)
class ProctorActionAuditAdmin(admin.ModelAdmin):
    """Read-only: the audit is append-only."""

    list_display = ("at", "actor_label", "action", "target", "ok")
    list_filter = ("action", "ok")
    search_fields = ("actor_label", "target")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
