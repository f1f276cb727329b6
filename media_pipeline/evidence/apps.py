from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    """Evidence export, results reports, retention purge and privacy requests (issue 8)."""

    name = "media_pipeline.evidence"
    label = "evidence"
    verbose_name = "证据与隐私 (evidence and privacy)"
