"""A logging filter that keeps secrets out of every log line.

Tokens, session keys, presigned URL signatures and ID card numbers must never reach a log
(privacy requirement; PIPL treats ID numbers as sensitive). Code should not log them in the first
place; this filter is the safety net for what libraries log (request paths, exception messages).
"""

from __future__ import annotations

import logging
import re

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # 18-character mainland ID numbers (17 digits + digit or X).
    (re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"), "[id-number]"),
    # Query parameters and JSON fields that carry credentials.
    (
        re.compile(
            r"(?i)((?:token|ticket|session_key|access_token|secret|code|signature|"
            r"X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|password)"
            r"[\"']?\s*[=:]\s*[\"']?)[^&\s\"',}]+"
        ),
        r"\1[redacted]",
    ),
    # The pairing QR URL's token (``/m/pair?t=...``), e.g. in an access log line.
    (re.compile(r"([?&]t=)[^&\s\"']+"), r"\1[redacted]"),
    # Authorization headers.
    (re.compile(r"(?i)(bearer|token)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Exception text is formatted later by the handler; pre-format and redact it here.
            import traceback

            cleaned += "\n" + redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
            record.exc_text = None
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True
