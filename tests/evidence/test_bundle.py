"""Evidence bundles: built by the task, stored, downloaded by link, verified; tampering is named."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import Client

from accounts.models import AccountAuditEntry
from media_pipeline.evidence import bundle, signing
from media_pipeline.evidence.models import ExportJob
from media_pipeline.evidence.services import Actor, export_job_create, export_link_create
from tests.conftest import ROOT
from tests.evidence import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _build(tmp_path: Path, *, snapshots: int = 3) -> tuple[Path, factories.AttemptWithEvidence]:
    exam = factories.session()
    first = factories.attempt(exam_session=exam, snapshots=snapshots)
    factories.attempt(exam_session=exam, snapshots=1)
    job = export_job_create(actor=Actor.command("test"), session_id=exam.pk)
    job.refresh_from_db()  # the task ran after commit (inline in the test profile)
    assert job.status == ExportJob.Status.DONE, job.error
    out = tmp_path / "bundle.zip"
    with storages["evidence"].open(job.file_key, "rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return out, first


def _rewrite(
    src: Path,
    dst: Path,
    *,
    change: dict[str, bytes] | None = None,
    drop: str = "",
    add: dict[str, bytes] | None = None,
) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename == drop:
                continue
            data = (change or {}).get(info.filename, zin.read(info))
            zout.writestr(info, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)


def test_round_trip_verifies_and_contains_every_part(tmp_path: Path) -> None:
    path, first = _build(tmp_path)
    report = bundle.verify_bundle(str(path), signing.configured_public_key())
    assert report.problems == []
    assert report.signature_ok is True
    names = set(zipfile.ZipFile(path).namelist())
    base = f"attempts/attempt-{first.attempt.pk}"
    for part in ("events", "incidents", "analysis", "audio", "snapshots"):
        assert f"{base}/{part}.csv" in names and f"{base}/{part}.json" in names
    assert f"{base}/report.html" in names
    images = sorted(n for n in names if n.startswith(f"{base}/snapshots/"))
    assert len(images) == 3
    # Each image in the bundle is byte-identical to the stored evidence.
    with zipfile.ZipFile(path) as zf:
        stored = {s.sha256: s for s in first.snapshots}
        for name in images:
            sha = __import__("hashlib").sha256(zf.read(name)).hexdigest()
            assert sha in stored
        manifest = json.loads(zf.read("manifest.json"))
        events_csv = zf.read(f"{base}/events.csv")
        html = zf.read(f"{base}/report.html").decode()
    assert report.files_checked == len(manifest["files"]) == len(names) - 2
    assert manifest["counts"]["snapshots"] == 4 and manifest["counts"]["attempts"] == 2
    assert manifest["event_chains"][str(first.attempt.pk)] == {"status": "ok", "problems": []}
    assert manifest["signature"]["key_id"] == signing.key_id(signing.configured_public_key())
    # CSV: UTF-8 with BOM, Chinese intact, formula-looking cells neutralised.
    assert events_csv.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(events_csv.decode("utf-8-sig"))))
    assert rows[0][:3] == ["seq", "kind", "actor"]
    assert rows[1][3] == "测试" and json.loads(rows[1][4]) == {"n": 1, "text": "=cmd"}
    assert len(rows) == 4
    # The report is in Chinese, shows the masked ID number and never the clear one.
    assert "考试监控报告" in html and first.attempt.candidate.id_number_masked in html
    assert "校验通过" in html
    assert first.id_number not in html
    assert first.id_number not in zipfile.ZipFile(path).read("attempts.csv").decode("utf-8-sig")
    audit = AccountAuditEntry.objects.filter(action="evidence.export_requested").get()
    assert audit.actor == "command:test"


def test_one_altered_byte_is_named(tmp_path: Path) -> None:
    path, first = _build(tmp_path)
    target = f"attempts/attempt-{first.attempt.pk}/events.json"
    original = zipfile.ZipFile(path).read(target)
    altered = bytearray(original)
    altered[10] ^= 0x01
    bad = tmp_path / "altered.zip"
    _rewrite(path, bad, change={target: bytes(altered)})
    report = bundle.verify_bundle(str(bad), signing.configured_public_key())
    assert report.signature_ok is True
    assert [(p.kind, p.path) for p in report.problems] == [("changed", target)]


def test_altered_image_byte_inside_stored_entry_is_named(tmp_path: Path) -> None:
    """Flip one byte in place in the ZIP file itself (not re-zipped): the stored JPEG changes."""
    path, first = _build(tmp_path)
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if "/snapshots/" in i.filename)
    raw = bytearray(path.read_bytes())
    # Local header: 30 bytes + name + extra, then the data (stored, uncompressed).
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    raw[info.header_offset + 30 + name_len + extra_len + 100] ^= 0xFF
    bad = tmp_path / "flipped.zip"
    bad.write_bytes(bytes(raw))
    report = bundle.verify_bundle(str(bad), signing.configured_public_key())
    assert [(p.kind, p.path) for p in report.problems] == [("changed", info.filename)]


def test_removed_file_is_named(tmp_path: Path) -> None:
    path, first = _build(tmp_path)
    target = f"attempts/attempt-{first.attempt.pk}/incidents.csv"
    bad = tmp_path / "removed.zip"
    _rewrite(path, bad, drop=target)
    report = bundle.verify_bundle(str(bad), signing.configured_public_key())
    assert [(p.kind, p.path) for p in report.problems] == [("missing", target)]
    assert report.ok is False


def test_added_file_is_named(tmp_path: Path) -> None:
    path, _first = _build(tmp_path)
    bad = tmp_path / "added.zip"
    _rewrite(path, bad, add={"attempts/extra.jpg": factories.jpeg_bytes(1)})
    report = bundle.verify_bundle(str(bad), signing.configured_public_key())
    assert [(p.kind, p.path) for p in report.problems] == [("added", "attempts/extra.jpg")]


def test_edited_manifest_fails_the_signature(tmp_path: Path) -> None:
    """Changing a file AND its manifest line is caught by the signature."""
    path, first = _build(tmp_path)
    target = f"attempts/attempt-{first.attempt.pk}/incidents.json"
    new_content = b"[]\n"
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    import hashlib

    for item in manifest["files"]:
        if item["path"] == target:
            item["sha256"], item["size"] = hashlib.sha256(new_content).hexdigest(), len(new_content)
    bad = tmp_path / "forged.zip"
    _rewrite(path, bad, change={target: new_content, "manifest.json": bundle.json_bytes(manifest) + b"\n"})
    report = bundle.verify_bundle(str(bad), signing.configured_public_key())
    assert report.signature_ok is False
    assert [(p.kind, p.path) for p in report.problems] == [("bad_signature", "manifest.json")]


def test_bundle_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    path, _first = _build(tmp_path)
    other = signing.private_key_from_secret("someone-else").public_key()
    report = bundle.verify_bundle(str(path), other)
    assert report.signature_ok is False
    assert [p.kind for p in report.problems] == ["unknown_key"]


def test_verify_export_command_exit_codes(tmp_path: Path) -> None:
    path, first = _build(tmp_path)
    bad = tmp_path / "removed.zip"
    target = f"attempts/attempt-{first.attempt.pk}/audio.json"
    _rewrite(path, bad, drop=target)
    out = io.StringIO()
    call_command("verify_export", str(path), stdout=out)
    assert "OK" in out.getvalue()
    # As a real process, so the exit status is what a shell sees.
    env_cmd = [sys.executable, "manage.py", "verify_export", str(bad)]
    result = subprocess.run(env_cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"missing: {target}" in result.stdout
    public_hex = signing.public_key_bytes(signing.configured_public_key()).hex()
    out = io.StringIO()
    call_command("verify_export", str(path), "--public-key", public_hex, "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "ok": True,
        "signature_ok": True,
        "files_checked": len(zipfile.ZipFile(path).namelist()) - 2,
        "problems": [],
    }
    with pytest.raises(SystemExit) as failed:
        call_command("verify_export", str(bad), "--json", stdout=io.StringIO())
    assert failed.value.code == 1


def test_local_download_link_is_signed_expiring_and_audited(tmp_path: Path, settings: object) -> None:
    exam = factories.session()
    factories.attempt(exam_session=exam, snapshots=1)
    job = export_job_create(actor=Actor.command("test"), session_id=exam.pk)
    link = export_link_create(job_id=job.pk, actor=Actor(label="user:9:chief"))
    path_and_query = link.url.split("127.0.0.1:8000", 1)[1]
    response = Client().get(path_and_query)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    report = bundle.verify_bundle(io.BytesIO(body), signing.configured_public_key())
    assert report.ok
    entry = AccountAuditEntry.objects.get(action="evidence.export_downloaded")
    assert (entry.actor, entry.target) == ("user:9:chief", f"export:{job.pk}")
    # A tampered token and another job's id are refused without a download or an audit entry.
    tampered = Client().get(path_and_query[:-2] + "xx")
    assert tampered.status_code == 403 and tampered.json()["code"] == "download_link_invalid"
    assert AccountAuditEntry.objects.filter(action="evidence.export_downloaded").count() == 1


def test_download_link_expires(tmp_path: Path, settings: object) -> None:
    exam = factories.session()
    factories.attempt(exam_session=exam, snapshots=1)
    job = export_job_create(actor=Actor.command("test"), session_id=exam.pk)
    settings.EXPORT_LINK_TTL_SECONDS = 0  # type: ignore[attr-defined]
    link = export_link_create(job_id=job.pk, actor=Actor(label="user:9:chief"))
    time.sleep(1.1)
    response = Client().get(link.url.split("127.0.0.1:8000", 1)[1])
    assert response.status_code == 403
    assert response.json()["code"] == "download_link_invalid"


def test_export_evidence_command_writes_a_verifiable_file(tmp_path: Path) -> None:
    exam = factories.session()
    item = factories.attempt(exam_session=exam, snapshots=2)
    out_file = tmp_path / "one.zip"
    out = io.StringIO()
    call_command("export_evidence", "--attempt", str(item.attempt.pk), "--out", str(out_file), stdout=out)
    report = bundle.verify_bundle(str(out_file), signing.configured_public_key())
    assert report.ok
    assert report.manifest["scope"] == {"session_id": exam.pk, "attempt_id": item.attempt.pk}
    assert report.manifest["counts"]["snapshots"] == 2
    job = ExportJob.objects.get()
    assert job.scope == "attempt" and job.status == "done" and job.progress == 100
    assert job.size_bytes == out_file.stat().st_size
    assert (
        AccountAuditEntry.objects.filter(action="evidence.export_written", target=f"export:{job.pk}").count()
        == 1
    )


def test_missing_stored_snapshot_is_reported_not_hidden(tmp_path: Path) -> None:
    exam = factories.session()
    item = factories.attempt(exam_session=exam, snapshots=2)
    storages["evidence"].delete(item.snapshots[0].storage_key)
    job = export_job_create(actor=Actor.command("test"), attempt_id=item.attempt.pk)
    job.refresh_from_db()
    assert job.status == "done"
    assert job.counts["snapshots"] == 1 and job.counts["snapshots_missing"] == 1
    with storages["evidence"].open(job.file_key, "rb") as handle:
        data = handle.read()
    report = bundle.verify_bundle(io.BytesIO(data), signing.configured_public_key())
    assert report.ok
    assert report.manifest["problems"] == [{"snapshot_id": item.snapshots[0].pk, "problem": "missing"}]


@pytest.mark.integration
def test_export_through_the_evidence_storage_and_a_short_lived_link(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Production pass: a real Celery worker builds the bundle, it is stored in SeaweedFS (S3 that
    verifies signatures) and fetched through a presigned URL with urllib. Embedded pass: the same
    flow with the in-process task and the signed local link served by daphne."""
    from tests.conftest import is_production_profile

    if is_production_profile():
        request.getfixturevalue("celery_worker_process")
    exam = factories.session()
    factories.attempt(exam_session=exam, snapshots=3)
    job = export_job_create(actor=Actor.command("test"), session_id=exam.pk)
    deadline = time.monotonic() + 60
    while job.status not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        job.refresh_from_db()
    assert job.status == "done", job.error
    assert job.progress == 100
    link = export_link_create(job_id=job.pk, actor=Actor(label="user:1:admin"))
    if is_production_profile():
        assert "X-Amz-Signature=" in link.url and "X-Amz-Expires=300" in link.url
        with urllib.request.urlopen(link.url, timeout=30) as response:
            data = response.read()
        # A forged signature is refused by the S3 server itself.
        forged = link.url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=30)
        assert refused.value.code == 403
    else:
        # The signed local link, fetched over HTTP from a real daphne server.
        server = request.getfixturevalue("live_server_process")
        url = server.extra["url"] + link.url.split("127.0.0.1:8000", 1)[1]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.headers["Content-Type"] == "application/zip"
            data = response.read()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url.replace("token=", "token=x"), timeout=30)
        assert refused.value.code == 403
    assert len(data) == job.size_bytes
    assert __import__("hashlib").sha256(data).hexdigest() == job.sha256
    report = bundle.verify_bundle(io.BytesIO(data), signing.configured_public_key())
    assert report.ok, [str(p) for p in report.problems]
    assert report.manifest["counts"]["snapshots"] == 3


def test_storage_outage_marks_the_job_failed_and_a_rerun_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: evidence storage refuses the upload (S3 down). The job says so; nothing is
    stored; the retry (the task's autoretry runs the same service) builds it completely."""
    from media_pipeline.evidence import services as evidence_services

    exam = factories.session()
    factories.attempt(exam_session=exam, snapshots=2)
    job = export_job_create(actor=Actor.command("test"), session_id=exam.pk, enqueue=False)
    storage = storages["evidence"]

    def refuse(name: str, content: object, max_length: int | None = None) -> str:
        raise ConnectionError("evidence storage unreachable")

    monkeypatch.setattr(storage, "save", refuse)
    with pytest.raises(ConnectionError):
        evidence_services.export_job_build(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.file_key, job.size_bytes) == ("failed", "", None)
    assert job.error == "ConnectionError: evidence storage unreachable"
    monkeypatch.undo()
    done = evidence_services.export_job_build(job_id=job.pk)
    assert (done.status, done.progress, done.error) == ("done", 100, "")
    with storages["evidence"].open(done.file_key, "rb") as handle:
        assert bundle.verify_bundle(handle, signing.configured_public_key()).ok
    # A third run is a no-op: same file, same hash.
    again = evidence_services.export_job_build(job_id=job.pk)
    assert (again.file_key, again.sha256, again.finished_at) == (done.file_key, done.sha256, done.finished_at)
