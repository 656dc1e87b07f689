"""Housekeeping of a data directory: `gc` removes asset files and cached subject
encodings that no database row references any more (deleted projects, replaced pictures,
discarded renders), and what a process killed mid-import or mid-export left behind
(`sweep_leftovers`, also run when the app starts).

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
from story.atomic import PART_GLOB
from story.models import Base, SubjectEncoding
from story.studio import Studio


@dataclass(frozen=True)
class GcReport:
    assets: list[str]  # removed asset hashes
    encodings: list[str]  # removed cache files, relative to cache/encodings/
    leftovers: list[str]  # removed staging folders and partial files, relative to the data directory


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


def sweep_leftovers(studio: Studio, *, min_age_s: float = GC_GRACE_S) -> list[str]:
    """Remove what killed processes left in the data directory, once older than `min_age_s`:
    bundle-import staging folders (`assets/.import-*`) and partly written files (`.*.part`
    of story/atomic.py, e.g. in exports/). Returns them relative to the data directory."""
    cutoff = time.time() - min_age_s
    found = [p for p in studio.assets.root.glob(".import-*") if p.is_dir()]
    found += [p for p in studio.root.rglob(PART_GLOB) if p.is_file()]
    removed = []
    for path in sorted(found):
        try:
            if not _old(path, cutoff):
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # another sweep got there first
            continue
        removed.append(path.relative_to(studio.root).as_posix())
    return removed


def gc(studio: Studio, *, min_age_s: float = GC_GRACE_S) -> GcReport:
    """Remove unreferenced asset files and encoding caches, and what interrupted imports and
    exports left, all older than `min_age_s`."""
    cutoff = time.time() - min_age_s
    leftovers = sweep_leftovers(studio, min_age_s=min_age_s)
    with studio.db.write() as session:  # the write lock: no reference commits meanwhile
        assets = studio.assets.gc(referenced_assets(session), min_age_s=min_age_s)
        encodings = _gc_encodings(studio, session, cutoff)
    return GcReport(assets, encodings, leftovers)
