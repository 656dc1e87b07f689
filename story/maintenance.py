"""Housekeeping of a data directory: `gc` removes asset files and cached subject
encodings that no database row references any more (deleted projects, replaced pictures,
discarded renders).

References are found from the schema itself: every column named `*_hash` of every table
points into the asset store, and `subject_encodings.file` into cache/encodings/. Files
younger than the grace period are kept, since their row may not have committed yet; the
scan runs under the database's write lock so no new reference commits meanwhile.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from story.assets import GC_GRACE_S
from story.models import Base, SubjectEncoding
from story.studio import Studio


@dataclass(frozen=True)
class GcReport:
    assets: list[str]  # removed asset hashes
    encodings: list[str]  # removed cache files, relative to cache/encodings/


def referenced_assets(session: Session) -> set[str]:
    """Every hash any `*_hash` column of any table holds."""
    found: set[str] = set()
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name.endswith("_hash"):
                found.update(session.scalars(select(column).distinct().where(column.is_not(None))))
    return found


def _old(path: Path, cutoff: float) -> bool:
    return path.stat().st_mtime <= cutoff


def _gc_encodings(studio: Studio, session: Session, cutoff: float) -> list[str]:
    root = studio.data_dir.encodings
    keep = {(root / f).resolve() for f in session.scalars(select(SubjectEncoding.file))}
    removed = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.resolve() not in keep and _old(path, cutoff):
            path.unlink(missing_ok=True)
            removed.append(path.relative_to(root).as_posix())
    return removed


def _gc_staging(studio: Studio, cutoff: float) -> None:
    """Remove what an interrupted bundle import left in its staging folders."""
    for folder in studio.assets.root.glob(".import-*"):
        if folder.is_dir() and _old(folder, cutoff):
            shutil.rmtree(folder, ignore_errors=True)


def gc(studio: Studio, *, min_age_s: float = GC_GRACE_S) -> GcReport:
    """Remove unreferenced asset files and encoding caches older than `min_age_s`."""
    cutoff = time.time() - min_age_s
    with studio.db.write() as session:  # the write lock: no reference commits meanwhile
        assets = studio.assets.gc(referenced_assets(session), min_age_s=min_age_s)
        encodings = _gc_encodings(studio, session, cutoff)
    _gc_staging(studio, cutoff)
    return GcReport(assets, encodings)
