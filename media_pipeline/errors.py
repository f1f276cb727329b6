"""Refused snapshots and audio batches, each with a stable ``code`` (the phone switches on it)."""

from __future__ import annotations

from rest_framework import status

from config.errors import ApplicationError, NotFoundError


class ImageRejected(ApplicationError):
    code = "image_rejected"
    http_status: int = status.HTTP_400_BAD_REQUEST
    default_message = "图片无法接收 (image rejected)."


class ImageTooLarge(ImageRejected):
    code = "image_too_large"
    http_status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_message = "图片文件过大 (image file too large)."


class ImageNotSupported(ImageRejected):
    code = "image_not_supported"
    http_status = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_message = "仅支持 JPEG 或 PNG 图片 (only JPEG or PNG images are accepted)."


class ImageCorrupt(ImageRejected):
    code = "image_corrupt"
    default_message = "图片已损坏，无法解码 (image is corrupt or truncated)."


class ImageDimensions(ImageRejected):
    code = "image_dimensions"
    default_message = "图片尺寸超出范围 (image width or height out of range)."


class ImageBomb(ImageRejected):
    code = "image_bomb"
    default_message = "图片像素数过多，已拒绝 (too many pixels: decompression bomb refused)."


class AudioRejected(ApplicationError):
    code = "audio_invalid"
    default_message = "音量数据无效 (invalid audio level batch)."


class DeviceNotFound(NotFoundError):
    code = "device_not_found"
    default_message = "监控设备不存在 (monitor device not found)."


class DeviceRevoked(ApplicationError):
    code = "device_revoked"
    http_status = status.HTTP_409_CONFLICT
    default_message = "该手机已被解除绑定 (this phone was unpaired)."


class SnapshotNotFound(NotFoundError):
    code = "snapshot_not_found"
    default_message = "截图不存在 (snapshot not found)."


class SnapshotNotAnalysed(ApplicationError):
    code = "snapshot_not_analysed"
    http_status = status.HTTP_409_CONFLICT
    default_message = "截图尚未分析完成 (snapshot not analysed yet)."
