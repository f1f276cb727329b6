"""The signed local download of an export (the S3 profile hands out presigned URLs instead)."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.http import require_GET

from config.errors import error_body
from media_pipeline.evidence import errors, services


@require_GET
def export_download(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """No session needed: the signed, expiring token in the query is the permission. The token
    names who asked for the link; the download is audited under that name."""
    token = request.GET.get("token", "")
    try:
        job, stream, filename = services.export_download_open(
            token=token, client_ip=request.META.get("REMOTE_ADDR")
        )
        if job.pk != job_id:
            stream.close()
            raise errors.DownloadLinkInvalid()
    except errors.DownloadLinkInvalid as exc:
        return JsonResponse(error_body(exc.code, exc.message), status=exc.http_status)
    response = FileResponse(stream, as_attachment=True, filename=filename, content_type="application/zip")
    response["Cache-Control"] = "no-store"
    return response
