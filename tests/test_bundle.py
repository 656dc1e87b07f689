"""Project bundles: a lossless round trip, never a merge, and every bad zip refused with
nothing written (no project row, no asset file)."""
from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from story import bundle, panels, projects, renders
from story.errors import Conflict, InvalidInput
from story.studio import Studio
from story_helpers import png, rich_project


def _comparable(view) -> dict:
    """A project view without database ids (which differ between data directories)."""
    data = asdict(replace(view, id=0, characters=[replace(c, id=0) for c in view.characters]))
    for panel in data["panels"]:
        panel.update(id=0, project_id=0, selected_render_id=None)
        for member in panel["characters"]:
            member["character_id"] = 0
        for balloon in panel["balloons"]:
            balloon.update(id=0, speaker_id=0)
    return data


def _history(studio: Studio, view) -> list[list[dict]]:
    out = []
    for panel in view.panels:
        rows = [asdict(r) | {"id": 0, "panel_id": 0} for r in renders.list_renders(studio, panel.id)]
        out.append(rows)
    return out


def _files(studio: Studio) -> set[str]:
    return {p.relative_to(studio.root).as_posix() for p in studio.root.rglob("*")
            if p.is_file() and not p.name.startswith("studio.db")}


@pytest.fixture
def exported(studio, tmp_path):
    view = rich_project(studio)
    return view, bundle.export_bundle(studio, view.id, tmp_path / "out" / "fox.zip")


def test_export_then_import_gives_an_identical_project(studio, exported, tmp_path):
    original, path = exported
    other = Studio.open(tmp_path / "other")
    try:
        copy = bundle.import_bundle(other, path)
        assert _comparable(copy) == _comparable(original)
        assert copy.created_at == original.created_at and copy.updated_at == original.updated_at
        assert _history(other, copy) == _history(studio, original)
        first = copy.panels[0]
        chosen = renders.get_render(other, first.selected_render_id)
        assert chosen.notes == "Fox left out" and chosen.panel_id == first.id
        for c_orig, c_copy in zip(original.characters, copy.characters):
            assert c_copy.picture_count == c_orig.picture_count
            for field in ("image_hash", "mask_hash", "subject_hash", "subject_mask_hash"):
                digest = getattr(c_copy, field)
                if digest:
                    assert other.assets.get_bytes(digest) == studio.assets.get_bytes(digest)
        maps = renders.get_render(other, first.selected_render_id).routing_maps_hash
        assert other.assets.get_bytes(maps) == studio.assets.get_bytes(maps)
        # and the bundle of the copy says exactly what the first bundle said
        again = bundle.export_bundle(other, copy.id, tmp_path / "again.zip")
        read = lambda p: json.loads(zipfile.ZipFile(p).read("project.json"))  # noqa: E731
        assert read(again) == read(path)
    finally:
        other.close()


def test_bundle_records_format_version_and_every_picture(exported):
    _, path = exported
    with zipfile.ZipFile(path) as z:
        document = json.loads(z.read("project.json"))
        names = set(z.namelist())
    assert (document["format"], document["version"]) == ("anystory-studio-bundle", 1)
    assert len(document["characters"][0]["pictures"]) == 2
    assert {f"assets/{h}.png" for h in bundle.referenced_hashes(document)} | {"project.json"} == names


def test_importing_twice_makes_a_second_project(studio, exported):
    original, path = exported
    first = bundle.import_bundle(studio, path)
    second = bundle.import_bundle(studio, path)
    assert (first.name, second.name) == ("Fox Tale (2)", "Fox Tale (3)")
    assert len({original.id, first.id, second.id}) == 3
    panels.update_panel(studio, first.panels[0].id, caption="changed in the copy")
    assert projects.get_project(studio, original.id).panels[0].caption == "雪中相遇。"


def test_export_replaces_an_existing_file_only_with_force(studio, exported):
    view, path = exported
    path.write_bytes(b"keep me")
    with pytest.raises(Conflict, match="--force"):
        bundle.export_bundle(studio, view.id, path)
    assert path.read_bytes() == b"keep me"
    bundle.export_bundle(studio, view.id, path, force=True)
    assert zipfile.is_zipfile(path)
    assert [p.name for p in path.parent.iterdir()] == ["fox.zip"]  # no temporary file left


# ---------------------------------------------------------------- bad bundles

def _rezip(source: Path, target: Path, change=None, extra: dict[str, bytes] | None = None) -> Path:
    """Copy a bundle, optionally editing project.json (`change(document)`) and adding members."""
    with zipfile.ZipFile(source) as z:
        members = {n: z.read(n) for n in z.namelist()}
    if change:
        document = json.loads(members["project.json"])
        change(document)
        members["project.json"] = json.dumps(document).encode()
    members.update(extra or {})
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return target


def _assert_refused(studio: Studio, path: Path, match: str) -> None:
    before_projects, before_files = projects.list_projects(studio), _files(studio)
    with pytest.raises(InvalidInput, match=match):
        bundle.import_bundle(studio, path)
    assert projects.list_projects(studio) == before_projects
    assert _files(studio) == before_files
    assert not list(studio.assets.root.glob(".import-*"))


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A bundle of a rich project, made once for the bad-bundle tests."""
    root = tmp_path_factory.mktemp("shipped")
    source = Studio.open(root / "source")
    try:
        yield bundle.export_bundle(source, rich_project(source).id, root / "fox.zip")
    finally:
        source.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """A data directory to import bad bundles into (so every asset would be new there);
    each test checks that it is left exactly as it was."""
    fresh = Studio.open(tmp_path_factory.mktemp("target") / "data")
    yield fresh
    fresh.close()


def test_corrupt_and_truncated_zips_are_refused(target, shipped, tmp_path):
    path = shipped
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 this is not really a zip")
    _assert_refused(target, junk, "not a readable project bundle")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _assert_refused(target, truncated, "not a readable project bundle")


def test_a_damaged_asset_is_refused_and_leaves_no_file(target, shipped, tmp_path):
    path = shipped
    with zipfile.ZipFile(path) as z:
        last = sorted(n for n in z.namelist() if n.startswith("assets/"))[-1]
    forged = _rezip(path, tmp_path / "forged.zip", extra={last: png((1, 2, 3))})
    _assert_refused(target, forged, "does not match its sha256")


@pytest.mark.parametrize("name", ["../evil.png", "/etc/evil.png", "assets/../../evil.png",
                                  "assets/sub/" + "a" * 64 + ".png", "notes.txt", "assets/"])
def test_member_paths_outside_the_layout_are_refused(target, shipped, tmp_path, name):
    path = shipped
    bad = _rezip(path, tmp_path / "slip.zip", extra={name: b"x"})
    _assert_refused(target, bad, "unexpected file")
    assert not (tmp_path / "evil.png").exists()


def test_a_zip_bomb_is_refused_before_it_is_expanded(target, shipped, tmp_path):
    path = shipped
    digest = "0" * 64
    bomb = _rezip(path, tmp_path / "bomb.zip", extra={f"assets/{digest}.png": bytes(50 * 2**20)})
    assert bomb.stat().st_size < 2**20
    _assert_refused(target, bomb, "zip bomb")


def test_a_member_larger_than_it_declares_is_refused(target, tmp_path):
    # project.json of 300 KB whose headers claim 1 KB: reading must stop at the claim
    document = json.dumps({"format": "anystory-studio-bundle", "pad": "x" * 300_000}).encode()
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.json", document)
    data = bytearray(path.read_bytes())
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + size_at
        data[at:at + 4] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    _assert_refused(target, path, "declared size|not a readable project bundle|not valid UTF-8 JSON")


def test_oversized_members_are_refused(target, shipped, monkeypatch):
    path = shipped
    monkeypatch.setattr(bundle, "MAX_ASSET_BYTES", 50)
    _assert_refused(target, path, "the limit is 50")


@pytest.mark.parametrize("change, match", [
    (lambda d: d.update(version=2), "format version 2"),
    (lambda d: d.update(version="1"), "format version '1'"),
    (lambda d: d.pop("format"), "not an AnyStory Studio project bundle"),
    (lambda d: d["panels"][0]["characters"][0].update(character=9), "refers to character 9"),
    (lambda d: d["panels"][0]["renders"][0].update(status="exploded"), "unknown render status"),
    (lambda d: d["panels"][0].update(selected_render=7), "selected_render"),
    (lambda d: d["panels"][0]["characters"][0].update(box=[0.5, 0, 0.2, 1]), r"panels\[0\].characters\[0\]"),
    (lambda d: d["panels"][0]["balloons"][0].update(kind="song"), "unknown balloon kind"),
    (lambda d: d["characters"][1].update(name="MIA"), "character name"),
    (lambda d: d["characters"][0].pop("version"), r"characters\[0\] has no \"version\""),
    (lambda d: d["project"].update(created_at="yesterday"), "ISO 8601"),
    (lambda d: d["characters"][0]["pictures"][0].update(mask_hash="../../etc/passwd"), "not a sha256"),
    (lambda d: d["panels"][1].update(position=0), "panel position 0 appears twice"),
])
def test_an_invalid_project_json_is_refused(target, shipped, tmp_path, change, match):
    path = shipped
    _assert_refused(target, _rezip(path, tmp_path / "bad.zip", change), match)


def test_a_bundle_missing_an_image_is_refused(target, shipped, tmp_path):
    path = shipped
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(tmp_path / "short.zip", "w") as out:
        for name in z.namelist()[:-1]:
            out.writestr(name, z.read(name))
    _assert_refused(target, tmp_path / "short.zip", "lacks 1 image")


def test_project_json_that_is_not_json_is_refused(target, tmp_path):
    path = tmp_path / "text.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.json", "{not json")
    _assert_refused(target, path, "not valid UTF-8 JSON")
