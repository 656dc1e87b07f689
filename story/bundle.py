"""Project bundles: one zip holding a versioned `project.json` (story/bundle_document.py)
and the project's images as `assets/<sha256>.png`, so a project moves between data
directories losslessly.

Import trusts nothing: member names, declared sizes, compression ratios, bytes actually
read and every asset's sha256 are checked, and project.json is validated field by field (story/bundle_document.py),
before the project's rows are written in one transaction. A rejected bundle leaves no
row and no asset file behind.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from story.atomic import replacing, storage_problem
from story.bundle_document import BundleDocument, parse_document, referenced_hashes
from story.bundle_rows import insert_document, project_document
from story.errors import Conflict, InvalidInput, NotFound
from story.json_input import parse_json
from story.projects import ProjectRef, get_project, project_row
from story.studio import Studio
from story.views import ProjectView

PROJECT_JSON = "project.json"
ASSET_MEMBER = re.compile(r"assets/([0-9a-f]{64})\.png")

MAX_PROJECT_JSON_BYTES = 64 * 2**20
MAX_ASSET_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 32 * 2**30
MAX_RATIO = 100  # PNGs barely compress; JSON rarely beyond 20:1
RATIO_CHECK_FROM = 2**20
CHUNK = 2**20


def export_bundle(studio: Studio, project: ProjectRef, out_path: str | os.PathLike, force: bool = False) -> Path:
    """Write the project as a bundle zip at `out_path` (replaced only with `force`)."""
    out_path = Path(out_path)
    if out_path.exists() and not force:
        raise Conflict(f"{out_path} already exists; use --force to replace it.")
    with studio.db.read() as session:
        document = project_document(session, project_row(session, project).id)
    hashes = sorted(referenced_hashes(document))
    missing = [h for h in hashes if not studio.assets.path(h).exists()]
    if missing:
        raise NotFound(f"The data directory lacks {len(missing)} image(s) of this project (e.g. {missing[0]}).")
    with replacing(out_path) as tmp, zipfile.ZipFile(tmp, "w") as bundle:
        text = document.model_dump_json(indent=1)
        bundle.writestr(PROJECT_JSON, text, compress_type=zipfile.ZIP_DEFLATED)
        for digest in hashes:  # PNGs are compressed already
            bundle.write(studio.assets.path(digest), f"assets/{digest}.png", zipfile.ZIP_STORED)
    return out_path


# --------------------------------------------------------------------------- import: zip

def _members(bundle: zipfile.ZipFile) -> tuple[zipfile.ZipInfo, dict[str, zipfile.ZipInfo]]:
    """project.json and the assets by hash, after checking every member's name and sizes."""
    project, assets, total = None, {}, 0
    for info in bundle.infolist():
        match = ASSET_MEMBER.fullmatch(info.filename)
        if info.filename != PROJECT_JSON and not match:
            raise InvalidInput(
                f"The bundle holds an unexpected file {info.filename!r}; only project.json and "
                "assets/<sha256>.png belong in a bundle."
            )
        if info.flag_bits & 0x1:
            raise InvalidInput(f"The bundle's {info.filename} is encrypted.")
        limit = MAX_ASSET_BYTES if match else MAX_PROJECT_JSON_BYTES
        if info.file_size > limit:
            raise InvalidInput(f"The bundle's {info.filename} is {info.file_size} bytes; the limit is {limit}.")
        if info.file_size > RATIO_CHECK_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InvalidInput(f"The bundle's {info.filename} expands more than {MAX_RATIO}-fold (a zip bomb?).")
        total += info.file_size
        if match:
            if match.group(1) in assets:
                raise InvalidInput(f"The bundle holds {info.filename} twice.")
            assets[match.group(1)] = info
        elif project is not None:
            raise InvalidInput("The bundle holds project.json twice.")
        else:
            project = info
    if total > MAX_TOTAL_BYTES:
        raise InvalidInput(f"The bundle would expand to {total} bytes; the limit is {MAX_TOTAL_BYTES}.")
    if project is None:
        raise InvalidInput("The bundle has no project.json.")
    return project, assets


def _chunks(bundle: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's bytes, never more than its declared size."""
    read = 0
    with bundle.open(info) as member:
        while chunk := member.read(CHUNK):
            read += len(chunk)
            if read > info.file_size:
                raise InvalidInput(f"The bundle's {info.filename} holds more than its declared size.")
            yield chunk


@contextmanager
def _damaged_zip_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise InvalidInput(f"{path.name} is not a readable project bundle (corrupt or truncated zip: {exc}).") from exc


@contextmanager
def _storage_errors(folder: Path) -> Iterator[None]:
    """A full disk or a read-only data directory as one line (StorageError)."""
    try:
        yield
    except OSError as exc:
        raise (storage_problem(exc, folder / ".import") or exc) from exc


def _stage(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, digest: str, staging: Path) -> Path:
    """Copy one asset into the staging folder (fsynced), checking its sha256."""
    target = staging / digest
    hasher = hashlib.sha256()
    with open(target, "wb") as handle:
        for chunk in _chunks(bundle, info):
            hasher.update(chunk)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    if hasher.hexdigest() != digest:
        raise InvalidInput(f"The bundle's {info.filename} does not match its sha256 (damaged).")
    return target


def _read_document(bundle: zipfile.ZipFile, info: zipfile.ZipInfo) -> BundleDocument:
    data = b"".join(_chunks(bundle, info))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"The bundle's project.json is not valid UTF-8 JSON ({exc}).") from exc
    return parse_document(parse_json(text, "The bundle's project.json", "UTF-8 JSON"))


def import_bundle(studio: Studio, path: str | os.PathLike) -> ProjectView:
    """Import a bundle as a new project (never merged into an existing one)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"No bundle file at {path}.")
    with _damaged_zip_errors(path), _storage_errors(studio.assets.root), zipfile.ZipFile(path) as bundle, \
            tempfile.TemporaryDirectory(dir=studio.assets.root, prefix=".import-") as staging:
        project_info, asset_infos = _members(bundle)
        parsed = _read_document(bundle, project_info)
        hashes = referenced_hashes(parsed)
        absent = sorted(hashes - asset_infos.keys())
        if absent:
            raise InvalidInput(f"The bundle lacks {len(absent)} image(s) its project.json refers to (e.g. {absent[0]}).")
        staged = {h: _stage(bundle, asset_infos[h], h, Path(staging)) for h in sorted(hashes)}
        placed: list[str] = []
        try:
            with studio.db.write() as session:
                for digest, file in staged.items():
                    if studio.assets.adopt(file, digest):
                        placed.append(digest)
                project_id = insert_document(session, parsed)
        except BaseException:
            for digest in placed:
                studio.assets.path(digest).unlink(missing_ok=True)
            raise
    return get_project(studio, project_id)
