"""Pure image checks (numpy, OpenCV, Pillow only; no Django): bytes or an image + thresholds +
an injected detector in, a frozen report out."""

from .detectors import Box, Detection, HaarPersonDetector, PersonDetector, YuNetDetector, detector_create
from .report import ANALYZER_VERSION, CheckResult, FrameReport, Thresholds, analyse_frame, default_detector
from .temporal import Signature

__all__ = [
    "ANALYZER_VERSION",
    "Box",
    "CheckResult",
    "Detection",
    "FrameReport",
    "HaarPersonDetector",
    "PersonDetector",
    "Signature",
    "Thresholds",
    "YuNetDetector",
    "analyse_frame",
    "default_detector",
    "detector_create",
]
