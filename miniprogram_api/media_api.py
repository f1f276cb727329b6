"""Media endpoints for proctors: snapshot images and thumbnails (authorised, audited), the reference
frame approval and the latest analysis report of an attempt.

Views only translate HTTP; media_pipeline.selectors / services decide who may see what and audit it.
A snapshot or attempt the proctor may not see answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import IsProctor
from media_pipeline import conf, selectors, services, storage
from media_pipeline.models import Snapshot


def _image_urls(snapshot_id: int) -> dict[str, str]:
    return {
        "image_url": reverse("api:snapshot-image", kwargs={"snapshot_id": snapshot_id}),
        "thumbnail_url": reverse("api:snapshot-thumbnail", kwargs={"snapshot_id": snapshot_id}),
    }


class _ProctorMediaView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsProctor]


def _jpeg_response(data: bytes, *, etag: str) -> HttpResponse:
    response = HttpResponse(data, content_type="image/jpeg")
    # Content-addressed, so the bytes never change; private: evidence must not sit in shared caches.
    response["Cache-Control"] = "private, max-age=3600, immutable"
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _not_modified(request: Request, etag: str) -> HttpResponse | None:
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    return None


_IMAGE_RESPONSES = {
    (200, "image/jpeg"): OpenApiTypes.BINARY,
    302: OpenApiResponse(description="Production: redirect to a presigned S3 URL (short-lived)."),
    304: OpenApiResponse(description="Not modified (If-None-Match with the ETag)."),
    403: OpenApiResponse(description="Not signed in as a proctor (`not_authenticated` / `forbidden`)."),
    404: OpenApiResponse(description="`snapshot_not_found`: missing, or of an attempt you cannot see."),
}


class SnapshotImageView(_ProctorMediaView):
    @extend_schema(
        operation_id="snapshot_image",
        summary="The stored snapshot (JPEG, EXIF-free); every view is audited",
        responses=_IMAGE_RESPONSES,
        tags=["media: proctor"],
    )
    def get(self, request: Request, snapshot_id: int) -> HttpResponse:
        snapshot = selectors.snapshot_visible_get(snapshot_id=snapshot_id, user=request.user)
        url = None
        if conf.get("SNAPSHOT_IMAGE_REDIRECT"):
            url = storage.presigned_url(snapshot.storage_key, ttl_s=int(conf.get("SNAPSHOT_IMAGE_URL_TTL_S")))
        services.snapshot_access_audit(
            snapshot=snapshot, user=request.user, variant="image", redirected=bool(url)
        )
        if url:
            response = HttpResponseRedirect(url)
            response["Cache-Control"] = "no-store"  # the URL expires; never replay it from a cache
            return response
        etag = f'"{snapshot.sha256}"'
        return _not_modified(request, etag) or _jpeg_response(
            selectors.snapshot_image(snapshot=snapshot), etag=etag
        )


class SnapshotThumbnailView(_ProctorMediaView):
    @extend_schema(
        operation_id="snapshot_thumbnail",
        summary="A ~320-px JPEG of the snapshot for the proctor grid (audited once per attempt per window)",
        responses=_IMAGE_RESPONSES,
        tags=["media: proctor"],
    )
    def get(self, request: Request, snapshot_id: int) -> HttpResponse:
        snapshot = selectors.snapshot_visible_get(snapshot_id=snapshot_id, user=request.user)
        width = int(conf.get("SNAPSHOT_THUMBNAIL_WIDTH"))
        etag = f'"{snapshot.sha256}-w{width}"'
        services.snapshot_access_audit(snapshot=snapshot, user=request.user, variant="thumbnail")
        cached = _not_modified(request, etag)
        if cached is not None:
            return cached
        return _jpeg_response(selectors.snapshot_thumbnail(snapshot=snapshot, width=width), etag=etag)


class ReferenceFrameOut(serializers.Serializer):
    attempt_id = serializers.IntegerField()
    snapshot_id = serializers.IntegerField()
    approved_automatically = serializers.BooleanField()
    approved_by = serializers.CharField(allow_null=True)
    approved_at = serializers.DateTimeField()
    image_url = serializers.CharField()
    thumbnail_url = serializers.CharField()


def _reference_out(ref: Any) -> dict[str, Any]:
    return {
        "attempt_id": ref.attempt_id,
        "snapshot_id": ref.snapshot_id,
        "approved_automatically": ref.approved_automatically,
        "approved_by": ref.approved_by.get_username() if ref.approved_by is not None else None,
        "approved_at": ref.approved_at,
        **_image_urls(ref.snapshot_id),
    }


class ReferenceApproveView(_ProctorMediaView):
    @extend_schema(
        operation_id="snapshot_reference_approve",
        summary="Approve this analysed snapshot as the attempt's reference frame (audited)",
        request=None,
        responses={
            200: ReferenceFrameOut,
            404: OpenApiResponse(description="`snapshot_not_found`"),
            409: OpenApiResponse(description="`snapshot_not_analysed`"),
        },
        tags=["media: proctor"],
    )
    def post(self, request: Request, snapshot_id: int) -> Response:
        ref = services.reference_frame_approve(snapshot_id=snapshot_id, user=request.user)
        return Response(ReferenceFrameOut(_reference_out(ref)).data)


class AnalysisOut(serializers.Serializer):
    snapshot_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    received_at = serializers.DateTimeField()
    captured_at = serializers.DateTimeField(allow_null=True)
    passed = serializers.BooleanField()
    person_count = serializers.IntegerField()
    analyzer_version = serializers.CharField()
    report = serializers.JSONField(
        help_text="FrameReport.as_dict(): checks with score, threshold, zh/en reasons."
    )
    image_url = serializers.CharField()
    thumbnail_url = serializers.CharField()


class LatestAnalysisOut(serializers.Serializer):
    attempt_id = serializers.IntegerField()
    latest = AnalysisOut(allow_null=True)
    reference = ReferenceFrameOut(allow_null=True)
    pending = serializers.IntegerField(help_text="Snapshots of the attempt still waiting for analysis.")


class LatestAnalysisView(_ProctorMediaView):
    @extend_schema(
        operation_id="attempt_latest_analysis",
        summary="The newest analysed frame of an attempt, its reference frame and the analysis backlog",
        responses={200: LatestAnalysisOut, 404: OpenApiResponse(description="`attempt_not_found`")},
        tags=["media: proctor"],
    )
    def get(self, request: Request, attempt_id: int) -> Response:
        latest = selectors.attempt_latest_analysis(attempt_id=attempt_id, user=request.user)
        body: dict[str, Any] = {
            "attempt_id": latest.attempt_id,
            "latest": None,
            "reference": _reference_out(latest.reference) if latest.reference is not None else None,
            "pending": latest.pending,
        }
        if latest.analysis is not None and latest.snapshot is not None:
            snap: Snapshot = latest.snapshot
            report = dict(latest.analysis.report)
            report.pop("signature", None)  # internal (frozen/drift comparisons), not for display
            body["latest"] = {
                "snapshot_id": snap.pk,
                "seq": snap.seq,
                "received_at": snap.received_at,
                "captured_at": snap.captured_at,
                "passed": latest.analysis.passed,
                "person_count": latest.analysis.person_count,
                "analyzer_version": latest.analysis.analyzer_version,
                "report": report,
                **_image_urls(snap.pk),
            }
        return Response(LatestAnalysisOut(body).data)


urlpatterns: list[URLPattern] = [
    path("media/snapshots/<int:snapshot_id>/image", SnapshotImageView.as_view(), name="snapshot-image"),
    path(
        "media/snapshots/<int:snapshot_id>/thumbnail",
        SnapshotThumbnailView.as_view(),
        name="snapshot-thumbnail",
    ),
    path(
        "media/snapshots/<int:snapshot_id>/reference",
        ReferenceApproveView.as_view(),
        name="snapshot-reference-approve",
    ),
    path(
        "media/attempts/<int:attempt_id>/analysis/latest",
        LatestAnalysisView.as_view(),
        name="attempt-latest-analysis",
    ),
]
