"""Streaming reads from evidence storage, on local files and S3 alike.

django-storages' ``S3File`` downloads a whole object into a buffer before the first ``read``;
for S3 we read the ``GetObject`` body instead, so a file is copied chunk by chunk in both
profiles and the bundle's memory does not depend on file sizes.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import Storage

from media_pipeline.storage import evidence_storage, spool_path

__all__ = ["evidence_storage", "is_s3", "open_stream", "spool_path"]


def is_s3(storage: Storage) -> bool:
    return hasattr(storage, "bucket") and hasattr(storage, "_normalize_name")


def open_stream(key: str, storage: Storage | None = None) -> Any:
    """A readable binary stream (``read(n)``, ``close()``); FileNotFoundError when absent.
    A snapshot not yet uploaded is read from the media pipeline's local spool."""
    spooled = spool_path(key)
    if spooled is not None:
        try:
            return spooled.open("rb")
        except FileNotFoundError:  # not spooled, or uploaded (and unlinked) since
            pass
    storage = storage or evidence_storage()
    if is_s3(storage):
        from botocore.exceptions import ClientError

        s3: Any = storage
        try:
            return s3.bucket.Object(s3._normalize_name(key)).get()["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(key) from None
            raise
    return storage.open(key, "rb")
