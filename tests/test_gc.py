"""gc removes exactly the files no row references: asset files (every *_hash column) and
cached subject encodings, sparing files younger than the grace period."""
from __future__ import annotations

import os
import time

from story import projects
from story.maintenance import gc
from story.models import SubjectEncoding
from story_helpers import png, rich_project


def _age(path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _age_all(studio) -> None:
    for path in studio.root.rglob("*"):
        if path.is_file():
            _age(path)


REFERENCES = [f"select {c} from character_images" for c in ("image_hash", "mask_hash", "subject_hash", "subject_mask_hash")]
REFERENCES += ["select image_hash from renders", "select routing_maps_hash from renders"]


def _referenced(studio) -> set[str]:
    """What the schema points at, listed column by column."""
    with studio.db.read() as session:
        sql = session.connection().exec_driver_sql
        return {h for query in REFERENCES for h in sql(query).scalars() if h}


def test_gc_keeps_referenced_files_and_removes_the_rest(studio):
    rich_project(studio, "Kept")
    doomed = rich_project(studio, "Doomed", shade=50)
    orphan = studio.assets.put_bytes(png((1, 2, 3)))
    both = _referenced(studio)
    projects.delete_project(studio, doomed.id)
    kept = _referenced(studio)
    assert len(both - kept) == 15  # the deleted project's own pictures, renders and maps
    _age_all(studio)
    removed = set(gc(studio).assets)
    assert removed == (both - kept) | {orphan}
    assert studio.assets.all_hashes() == kept


def test_gc_spares_young_files_and_reused_old_ones(studio):
    young = studio.assets.put_bytes(png((9, 9, 9)))
    reused = studio.assets.put_bytes(png((8, 8, 8)))
    _age(studio.assets.path(reused))
    studio.assets.put_bytes(png((8, 8, 8)))  # uploaded again: about to be referenced
    stale = studio.assets.put_bytes(png((7, 7, 7)))
    _age(studio.assets.path(stale))
    assert gc(studio).assets == [stale]
    assert studio.assets.path(young).exists() and studio.assets.path(reused).exists()


def test_gc_removes_unreferenced_encoding_caches(studio):
    project = rich_project(studio)
    root = studio.data_dir.encodings
    (root / "mia-v3.pt").write_bytes(b"tensors")
    (root / "old" / "mia-v1.pt").parent.mkdir()
    (root / "old" / "mia-v1.pt").write_bytes(b"stale tensors")
    with studio.db.write() as session:
        session.add(SubjectEncoding(character_id=project.characters[0].id, character_version=3,
                                    fingerprint="draft:v1", file="mia-v3.pt"))
    _age_all(studio)
    assert gc(studio).encodings == ["old/mia-v1.pt"]
    assert (root / "mia-v3.pt").exists()


KILLED_EXPORT = """
import os, signal, sys
from story.atomic import write_atomically
def write(temporary):
    temporary.write_bytes(b"%PDF-1.4 half a comic")
    os.kill(os.getpid(), signal.SIGKILL)
write_atomically(sys.argv[1], write)
"""

KILLED_IMPORT = """
import os, signal, sys
from story import bundle
from story.studio import Studio
staged = bundle._stage
def stage_then_die(*args):
    staged(*args)
    os.kill(os.getpid(), signal.SIGKILL)
bundle._stage = stage_then_die
bundle.import_bundle(Studio.open(sys.argv[1]), sys.argv[2])
"""


def _killed(code: str, *args) -> None:
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=repo,
                          env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr


def test_gc_sweeps_what_processes_killed_mid_import_or_export_left(studio, tmp_path):
    from story import bundle

    path = bundle.export_bundle(studio, rich_project(studio).id, tmp_path / "fox.zip")
    _killed(KILLED_EXPORT, studio.data_dir.exports / "fox.pdf")
    _killed(KILLED_IMPORT, studio.root, path)
    litter = list(studio.assets.root.glob(".import-*")) + list(studio.data_dir.exports.glob(".fox.pdf.*.part"))
    assert len(litter) == 2 and not (studio.data_dir.exports / "fox.pdf").exists()
    assert gc(studio).leftovers == []  # young: they might belong to a running import or export
    for leftover in litter:
        _age(leftover)
    assert sorted(gc(studio).leftovers) == sorted(p.relative_to(studio.root).as_posix() for p in litter)
    assert not any(p.exists() for p in litter)
    assert len(projects.list_projects(studio)) == 1
