"""Files written in place (exports, bundles, assets) get an ordinary file's mode, and a
failed write leaves neither a partial file nor a temporary one."""
from __future__ import annotations

import os

import pytest

from story import bundle
from story.atomic import write_atomically
from story.export.from_project import export_project, page_settings
from story_helpers import rich_project


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_exports_and_bundles_are_readable_by_others(studio, tmp_path, umask_022):
    view = rich_project(studio)
    written = [bundle.export_bundle(studio, view.id, tmp_path / "fox.zip")]
    for fmt in ("pdf", "cbz"):
        written.append(export_project(studio, view.id, fmt, tmp_path / f"fox.{fmt}", page_settings({})).path)
    written += export_project(studio, view.id, "png", tmp_path / "pages", page_settings({}), dpi=36).files
    written.append(studio.assets.path(view.characters[0].image_hash))
    assert {oct(path.stat().st_mode & 0o777) for path in written} == {"0o644"}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def fail(temporary):
        temporary.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(target, fail)
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"] and target.read_text() == "old"
