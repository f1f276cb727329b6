"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis), against a real
daphne server: no 5xx, and every documented response matches the schema.

Bounded: a fixed number of examples per operation and a time budget, so the run takes a couple of
minutes. It runs once as a desktop client and once as the mini-program (each with its own bearer
token, created here), because most operations refuse the other kind of token before reading input.
``auth/logout`` is left out: it would revoke the token mid-run and turn the rest into 401s (its
refusals are covered in tests/accounts).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import services
from tests.conftest import ROOT
from tests.monitor import factories as f

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
MAX_EXAMPLES = 12


def fuzz(
    server: services.Process, token: str, caller_ip: str, report: Path
) -> subprocess.CompletedProcess[str]:
    base = server.extra["url"]
    args = [
        str(services.VENV_BIN / "st"),
        "run",
        f"{base}/api/schema/?format=json",
        "--url",
        base,
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        "60",
        # One worker: hypothesis parses lambda sources with ast.parse, which is not thread-safe on
        # CPython 3.11.7 (SystemError "AST constructor recursion depth mismatch" with 2 workers).
        "--workers",
        "1",
        "--exclude-path",
        "/api/v1/auth/logout",
        "--header",
        f"Authorization: Bearer {token}",
        "--header",
        f"X-Forwarded-For: {caller_ip}",
        "--request-timeout",
        "20",
        "--seed",
        "20261129",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report),
    ]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("caller", ["desktop", "miniprogram"])
def test_the_api_survives_fuzzing_from_its_own_schema(
    fake_wechat: Any, live_server_process: services.Process, artifacts_dir: Path, caller: str
) -> None:
    s = f.sitting(f.running_session(), 1)
    token = s.desktop_token if caller == "desktop" else s.phone_token

    result = fuzz(
        live_server_process,
        token,
        "10.99.0.1" if caller == "desktop" else "10.99.0.2",
        artifacts_dir / f"schemathesis-{caller}",
    )

    (artifacts_dir / f"schemathesis-{caller}.txt").write_text(result.stdout + result.stderr)
    summary = result.stdout[-6000:]
    assert "API capabilities" in result.stdout or "Operations" in result.stdout, summary
    assert result.returncode == 0, summary
