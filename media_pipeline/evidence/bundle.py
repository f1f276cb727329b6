"""The signed ZIP bundle: a streaming writer and the verifier. Pure: no Django, no ORM.

Layout: every file is listed in ``manifest.json`` with its SHA-256 and size; ``manifest.sig`` is
an Ed25519 signature over the exact bytes of ``manifest.json``. A verifier therefore needs only the
ZIP and the trusted public key, and can name every changed, missing or added file.

Memory: entries are written through ``ZipFile.open(name, "w")`` in chunks, hashed on the way;
nothing holds a whole entry, let alone the whole bundle. The ZIP goes to a file object (a
temporary file in practice) that the caller then streams to storage.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from media_pipeline.evidence import signing

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FORMAT = "exam-evidence-bundle"
FORMAT_VERSION = 1
CHUNK = 64 * 1024
_CSV_FLUSH_ROWS = 500


@dataclass(frozen=True)
class Entry:
    path: str
    sha256: str
    size: int


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, default=_json_default).encode()


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    text = str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ would run in Excel.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class BundleWriter:
    """Writes entries into a ZIP, recording the hash and size of each; ``finish`` signs."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.entries: list[Entry] = []
        self._names: set[str] = set()

    def _check_name(self, path: str) -> None:
        if path in self._names or path in (MANIFEST, SIGNATURE):
            raise ValueError(f"duplicate bundle entry {path!r}")
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"unsafe bundle entry name {path!r}")
        self._names.add(path)

    def add_chunks(self, path: str, chunks: Iterable[bytes], *, compress: bool = True) -> Entry:
        self._check_name(path)
        info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
        # JPEGs are already compressed: storing them saves CPU and loses nothing.
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        digest = hashlib.sha256()
        size = 0
        with self._zip.open(info, "w", force_zip64=True) as out:
            for chunk in chunks:
                if not chunk:
                    continue
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        entry = Entry(path=path, sha256=digest.hexdigest(), size=size)
        self.entries.append(entry)
        return entry

    def add_bytes(self, path: str, data: bytes, *, compress: bool = True) -> Entry:
        return self.add_chunks(path, [data], compress=compress)

    def add_json(self, path: str, value: Any) -> Entry:
        return self.add_bytes(path, json_bytes(value))

    def add_json_array(self, path: str, items: Iterable[Any]) -> Entry:
        """A JSON array written item by item (a session's events never sit in memory at once)."""

        def chunks() -> Iterator[bytes]:
            yield b"["
            first = True
            for item in items:
                prefix = b"\n  " if first else b",\n  "
                first = False
                yield prefix + json.dumps(item, ensure_ascii=False, default=_json_default).encode()
            yield b"\n]\n" if not first else b"]\n"

        return self.add_chunks(path, chunks())

    def add_csv(self, path: str, header: list[str], rows: Iterable[Iterable[Any]]) -> Entry:
        """UTF-8 with a BOM so Excel opens Chinese text correctly; written in batches of rows."""

        def chunks() -> Iterator[bytes]:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            buffer.write("\ufeff")
            writer.writerow(header)
            for count, row in enumerate(rows, start=1):
                writer.writerow([csv_cell(v) for v in row])
                if count % _CSV_FLUSH_ROWS == 0:
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue().encode()

        return self.add_chunks(path, chunks())

    def finish(self, metadata: dict[str, Any], private_key: Ed25519PrivateKey) -> bytes:
        """Writes manifest.json and manifest.sig, closes the ZIP; returns the manifest bytes."""
        public = private_key.public_key()
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            **metadata,
            "signature": {
                "algorithm": signing.ALGORITHM,
                "key_id": signing.key_id(public),
                "public_key": signing.public_key_bytes(public).hex(),
                "signed_file": MANIFEST,
                "signature_file": SIGNATURE,
            },
            "files": [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in self.entries],
        }
        manifest_bytes = json_bytes(manifest) + b"\n"
        info = zipfile.ZipInfo(MANIFEST, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        self._zip.writestr(info, manifest_bytes)
        sig_info = zipfile.ZipInfo(SIGNATURE, date_time=(1980, 1, 1, 0, 0, 0))
        self._zip.writestr(sig_info, signing.sign(manifest_bytes, private_key).to_bytes())
        self._zip.close()
        return manifest_bytes


# --- Verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # changed | missing | added | duplicate | bad_signature | unknown_key | unreadable
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class VerificationReport:
    signature_ok: bool = False
    files_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.signature_ok and not self.problems

    def paths(self, kind: str) -> list[str]:
        return [p.path for p in self.problems if p.kind == kind]


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with zf.open(info) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_bundle(source: str | IO[bytes], public_key: Ed25519PublicKey) -> VerificationReport:
    """Checks the signature, then every listed file; reports every problem, not just the first."""
    report = VerificationReport()
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problems.append(Problem("unreadable", str(getattr(source, "name", source)), str(exc)))
        return report
    with zf:
        members: dict[str, list[zipfile.ZipInfo]] = {}
        for info in zf.infolist():
            members.setdefault(info.filename, []).append(info)
        for name, infos in members.items():
            if len(infos) > 1:
                # Two entries with one name: readers disagree on which one they show.
                report.problems.append(Problem("duplicate", name, f"{len(infos)} entries"))

        if MANIFEST not in members:
            report.problems.append(Problem("missing", MANIFEST))
            return report
        manifest_bytes = zf.read(members[MANIFEST][-1])
        if SIGNATURE not in members:
            report.problems.append(Problem("missing", SIGNATURE))
        else:
            try:
                signature = signing.Signature.from_bytes(zf.read(members[SIGNATURE][-1]))
            except (ValueError, KeyError, TypeError) as exc:
                report.problems.append(Problem("bad_signature", SIGNATURE, f"unreadable: {exc}"))
            else:
                report.signature_ok = signing.verify(manifest_bytes, signature, public_key)
                if not report.signature_ok:
                    trusted = signing.key_id(public_key)
                    if signature.key_id != trusted:
                        detail = f"signed by key {signature.key_id}, trusted key is {trusted}"
                        report.problems.append(Problem("unknown_key", SIGNATURE, detail))
                    else:
                        report.problems.append(Problem("bad_signature", MANIFEST, "signature does not match"))
        try:
            manifest = json.loads(manifest_bytes.decode())
            listed = {str(f["path"]): (str(f["sha256"]), int(f["size"])) for f in manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(Problem("unreadable", MANIFEST, str(exc)))
            return report
        report.manifest = manifest

        for path, (sha256, size) in listed.items():
            if path not in members:
                report.problems.append(Problem("missing", path))
                continue
            try:
                actual_sha, actual_size = _hash_member(zf, members[path][-1])
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                # A flipped byte inside a compressed entry usually fails the ZIP's own CRC.
                report.problems.append(Problem("changed", path, f"unreadable: {exc}"))
                continue
            report.files_checked += 1
            if actual_sha != sha256 or actual_size != size:
                report.problems.append(
                    Problem("changed", path, f"sha256 {actual_sha[:12]}… ≠ {sha256[:12]}…")
                )
        for name in members:
            if name not in listed and name not in (MANIFEST, SIGNATURE):
                report.problems.append(Problem("added", name))
    return report
