"""Evidence storage for snapshots: content-addressed keys, durable before the phone is acked.

Embedded profile: the ``evidence`` FileSystemStorage, fsynced. Production: the bytes are made
durable in a local spool (fsync + rename) and the phone is acked from there; the snapshot row says
``uploaded=False`` and the ``process_snapshot`` task puts the object into S3 (server-side
encryption requested, Content-MD5 sent: S3 rejects a body that does not match), retrying while S3
is down. The ack never waits for S3: an S3 PUT is a network round trip and ~2-3 ms of botocore CPU
on the ASGI server's one core, for every frame. Readers look in the spool first.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

from . import conf

logger = logging.getLogger(__name__)

try:  # botocore is there with boto3 (production); the embedded profile never raises its errors
    from botocore.exceptions import BotoCoreError, ClientError

    TRANSIENT_STORAGE_ERRORS: tuple[type[BaseException], ...] = (
        BotoCoreError,
        ClientError,
        ConnectionError,
        TimeoutError,
    )
except ImportError:  # pragma: no cover
    TRANSIENT_STORAGE_ERRORS = (ConnectionError, TimeoutError)


class SpoolNotVisible(Exception):
    """A snapshot is in neither this host's spool nor evidence storage (yet): retry later."""


def snapshot_key(sha256: str) -> str:
    return f"snapshots/{sha256[:2]}/{sha256}.jpg"


def evidence_storage() -> Storage:
    return storages["evidence"]


def spool_path(key: str) -> Path | None:
    spool = conf.get("SNAPSHOT_SPOOL_DIR")
    return Path(spool) / key if spool else None


def _fsync_write(path: Path, data: bytes) -> None:
    """Write atomically and durably: temp file, fsync, rename, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per writer: two sockets storing the same bytes (identical frames share their key) at
    # once must not write one temp file; the last rename wins and both results are identical.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def upload(*, key: str, data: bytes, content_type: str) -> None:
    """Put the object into evidence storage (raises TRANSIENT_STORAGE_ERRORS when S3 is down)."""
    storage = evidence_storage()
    if isinstance(storage, FileSystemStorage):
        if not storage.exists(key):  # content-addressed: the same key always holds the same bytes
            _fsync_write(Path(storage.path(key)), data)
        return
    if hasattr(storage, "bucket_name") and hasattr(storage, "connection"):
        s3: Any = storage
        # django-storages S3Storage: put directly so the per-object Content-MD5 can be sent.
        params: dict[str, Any] = {
            "Bucket": s3.bucket_name,
            "Key": s3._normalize_name(key),  # the storage's "location" prefix
            "Body": data,
            "ContentType": content_type,
            "ContentMD5": base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324 - integrity, not security
        }
        sse = conf.get("S3_SERVER_SIDE_ENCRYPTION")
        if sse:
            params["ServerSideEncryption"] = sse
        s3.connection.meta.client.put_object(**params)
        return
    if not storage.exists(key):  # any other backend
        storage.save(key, ContentFile(data))


def store(*, key: str, data: bytes, content_type: str) -> bool:
    """Make the bytes durable. Returns True when they are in evidence storage (no spool: the local
    files of the embedded profile), False when they are in the local spool only: the caller queues
    the upload (``process_snapshot``)."""
    spooled = spool_path(key)
    if spooled is None:
        upload(key=key, data=data, content_type=content_type)
        return True
    _fsync_write(spooled, data)
    return False


def upload_spooled(*, key: str, content_type: str) -> bool:
    """Upload a spooled file (idempotent). False when there is nothing in the spool."""
    spooled = spool_path(key)
    if spooled is None:
        return False
    try:
        data = spooled.read_bytes()
    except FileNotFoundError:  # already uploaded (identical frames share one key and one file)
        return False
    try:
        upload(key=key, data=data, content_type=content_type)
    except TRANSIENT_STORAGE_ERRORS as exc:
        logger.warning("evidence upload failed, kept in spool: %s", type(exc).__name__)
        raise
    spooled.unlink(missing_ok=True)
    return True


def read(key: str) -> bytes:
    spooled = spool_path(key)
    if spooled is not None:
        try:
            return spooled.read_bytes()
        except FileNotFoundError:  # not spooled, or uploaded (and unlinked) since
            pass
    with evidence_storage().open(key, "rb") as fh:
        return bytes(fh.read())


def presigned_url(key: str, *, ttl_s: int) -> str | None:
    """A short-lived GET URL for an object in S3, or None when evidence storage is not S3 (local
    files) or the object is only in the spool. Never log the URL: it is a bearer credential."""
    spooled = spool_path(key)
    if spooled is not None and spooled.exists():
        return None
    store = evidence_storage()
    connection = getattr(store, "connection", None)
    if connection is None or isinstance(store, FileSystemStorage):
        return None
    client = connection.meta.client
    name = store._normalize_name(key)  # type: ignore[attr-defined]  # S3Storage: prefixes "location"
    url: str = client.generate_presigned_url(
        "get_object",
        Params={"Bucket": store.bucket_name, "Key": name},  # type: ignore[attr-defined]
        ExpiresIn=ttl_s,
    )
    return url
