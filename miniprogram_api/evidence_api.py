"""Admin REST endpoints for evidence exports (exam admins), and the signed local download link.

Permissions are Django model permissions of the evidence app (``evidence.add_exportjob`` to
request a bundle or a link, ``evidence.view_exportjob`` to read progress), so the exam-admin role
gets them through its group like every other admin right.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from media_pipeline.evidence import services, views
from media_pipeline.evidence.models import ExportJob


class HasExportPermission(BasePermission):
    message = "需要证据导出权限 (evidence export permission required)."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        needed = "evidence.view_exportjob" if request.method == "GET" else "evidence.add_exportjob"
        return bool(user.has_perm(needed))


class ExportJobOutput(serializers.ModelSerializer):
    class Meta:
        model = ExportJob
        fields = [
            "id",
            "scope",
            "session",
            "attempt",
            "status",
            "progress",
            "size_bytes",
            "sha256",
            "counts",
            "error",
            "created_at",
            "finished_at",
        ]


class ExportCreateApi(APIView):
    permission_classes = [HasExportPermission]

    class ExportCreateInputSerializer(serializers.Serializer):
        session_id = serializers.IntegerField(required=False, min_value=1)
        attempt_id = serializers.IntegerField(required=False, min_value=1)

    @extend_schema(request=ExportCreateInputSerializer, responses={202: ExportJobOutput}, tags=["evidence"])
    def post(self, request: Request) -> Response:
        data = self.ExportCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.export_job_create(
            actor=services.Actor.of_user(request.user),
            session_id=data.validated_data.get("session_id"),
            attempt_id=data.validated_data.get("attempt_id"),
        )
        job.refresh_from_db()
        return Response(ExportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    permission_classes = [HasExportPermission]

    @extend_schema(responses={200: ExportJobOutput}, tags=["evidence"])
    def get(self, request: Request, job_id: int) -> Response:
        job = ExportJob.objects.filter(pk=job_id).first()
        if job is None:
            from config.errors import NotFoundError

            raise NotFoundError(code="export_not_found")
        return Response(ExportJobOutput(job).data)


class ExportLinkApi(APIView):
    permission_classes = [HasExportPermission]

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "ExportLink", {"url": serializers.CharField(), "expires_at": serializers.DateTimeField()}
            )
        },
        tags=["evidence"],
    )
    def post(self, request: Request, job_id: int) -> Response:
        link = services.export_link_create(job_id=job_id, actor=services.Actor.of_user(request.user))
        return Response({"url": link.url, "expires_at": link.expires_at})


urlpatterns = [
    path("evidence/exports/", ExportCreateApi.as_view(), name="evidence-export-create"),
    path("evidence/exports/<int:job_id>/", ExportDetailApi.as_view(), name="evidence-export-detail"),
    path("evidence/exports/<int:job_id>/link/", ExportLinkApi.as_view(), name="evidence-export-link"),
    path("evidence/exports/<int:job_id>/download/", views.export_download, name="evidence-export-download"),
]
