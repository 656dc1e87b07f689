"""Project bundles: one zip holding a versioned `project.json` and the project's images
as `assets/<sha256>.png`, so a project moves between data directories losslessly.

project.json carries every field of the project, its characters with all their pictures,
its panels (characters with boxes, dialogue, seed, overrides) and each panel's render
history with the selected render. Rows refer to each other by list index, never by
database id. Cached subject encodings are not exported: they are recomputed on demand.

Import trusts nothing: member names, declared sizes, compression ratios, bytes actually
read and every asset's sha256 are checked, and project.json is validated field by field,
before the project's rows are written in one transaction. A rejected bundle leaves no
row and no asset file behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from story.characters import clean_alias
from story.errors import Conflict, InvalidInput, NotFound
from story.jsonfields import as_object, get, get_list, get_time
from story.models import (
    BALLOON_KINDS, RENDER_STATUSES, Balloon, Character, CharacterImage, Panel, PanelCharacter,
    Project, Render,
)
from story.panels import check_box
from story.projects import ProjectRef, clean_name, get_project, name_key, new_project_row, project_row
from story.studio import Studio
from story.views import ProjectView

FORMAT = "anystory-studio-bundle"
VERSION = 1
PROJECT_JSON = "project.json"
ASSET_MEMBER = re.compile(r"assets/([0-9a-f]{64})\.png")
HASH = re.compile(r"[0-9a-f]{64}")

MAX_PROJECT_JSON_BYTES = 64 * 2**20
MAX_ASSET_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 32 * 2**30
MAX_RATIO = 100  # PNGs barely compress; JSON rarely beyond 20:1
RATIO_CHECK_FROM = 2**20
CHUNK = 2**20

IMAGE_FIELDS = ("image_hash", "mask_hash", "subject_hash", "subject_mask_hash")
RENDER_HASH_FIELDS = ("image_hash", "routing_maps_hash")


# --------------------------------------------------------------------------- export

def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value else None


def _load(session: Session, project_id: int) -> Project:
    return session.scalars(
        select(Project).where(Project.id == project_id).options(
            selectinload(Project.characters).selectinload(Character.images),
            selectinload(Project.panels).options(
                selectinload(Panel.characters), selectinload(Panel.balloons),
                selectinload(Panel.renders),
            ),
        )
    ).one()


def _render_doc(render: Render) -> dict[str, Any]:
    return {
        "status": render.status, "engine": render.engine, "fingerprint": render.fingerprint,
        "params": render.params, "seed": render.seed, "image_hash": render.image_hash,
        "routing_maps_hash": render.routing_maps_hash, "progress": render.progress,
        "error": render.error, "notes": render.notes, "cancel_requested": render.cancel_requested,
        "created_at": _iso(render.created_at), "started_at": _iso(render.started_at),
        "finished_at": _iso(render.finished_at),
    }


def _panel_doc(panel: Panel, index_of: dict[int, int]) -> dict[str, Any]:
    render_ids = [r.id for r in panel.renders]
    return {
        "position": panel.position, "prompt": panel.prompt, "caption": panel.caption,
        "seed": panel.seed, "overrides": panel.overrides, "version": panel.version,
        "created_at": _iso(panel.created_at), "updated_at": _iso(panel.updated_at),
        "characters": [
            {"character": index_of[pc.character_id], "position": pc.position, "box": pc.box}
            for pc in panel.characters
        ],
        "balloons": [
            {"speaker": index_of.get(b.speaker_id) if b.speaker_id else None,
             "position": b.position, "kind": b.kind, "text": b.text}
            for b in panel.balloons
        ],
        "renders": [_render_doc(r) for r in panel.renders],
        "selected_render": render_ids.index(panel.selected_render_id)
        if panel.selected_render_id in render_ids else None,
    }


def _character_doc(character: Character) -> dict[str, Any]:
    return {
        "name": character.name, "alias": character.alias, "description": character.description,
        "version": character.version, "created_at": _iso(character.created_at),
        "updated_at": _iso(character.updated_at),
        "pictures": [
            {"position": i.position, "segmenter": i.segmenter, "created_at": _iso(i.created_at),
             **{f: getattr(i, f) for f in IMAGE_FIELDS}}
            for i in character.images
        ],
    }


def project_document(session: Session, project_id: int) -> dict[str, Any]:
    """The project as the plain data stored in a bundle's project.json."""
    project = _load(session, project_id)
    index_of = {c.id: i for i, c in enumerate(project.characters)}
    return {
        "format": FORMAT, "version": VERSION,
        "project": {
            "name": project.name, "author": project.author, "style": project.style,
            "page_settings": project.page_settings, "render_defaults": project.render_defaults,
            "created_at": _iso(project.created_at), "updated_at": _iso(project.updated_at),
        },
        "characters": [_character_doc(c) for c in project.characters],
        "panels": [_panel_doc(p, index_of) for p in project.panels],
    }


def referenced_hashes(document: dict[str, Any]) -> set[str]:
    """Every asset hash a project document points at."""
    found = {pic[f] for c in document["characters"] for pic in c["pictures"] for f in IMAGE_FIELDS}
    found |= {r[f] for p in document["panels"] for r in p["renders"] for f in RENDER_HASH_FIELDS}
    found.discard(None)
    return found


@contextmanager
def _replacing(out_path: Path, force: bool) -> Iterator[Path]:
    """A temporary file beside `out_path` that replaces it (atomically) on success."""
    if out_path.exists() and not force:
        raise Conflict(f"{out_path} already exists; use --force to replace it.")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, out_path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def export_bundle(studio: Studio, project: ProjectRef, out_path: str | os.PathLike, force: bool = False) -> Path:
    """Write the project as a bundle zip at `out_path` (replaced only with `force`)."""
    out_path = Path(out_path)
    with studio.db.read() as session:
        document = project_document(session, project_row(session, project).id)
    hashes = sorted(referenced_hashes(document))
    missing = [h for h in hashes if not studio.assets.path(h).exists()]
    if missing:
        raise NotFound(f"The data directory lacks {len(missing)} image(s) of this project (e.g. {missing[0]}).")
    with _replacing(out_path, force) as tmp:
        with zipfile.ZipFile(tmp, "w") as bundle:
            text = json.dumps(document, ensure_ascii=False, indent=1)
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


# --------------------------------------------------------------------------- import: project.json

def _hash(obj: dict[str, Any], key: str, where: str, *, required: bool) -> Optional[str]:
    value = get(obj, key, str, where) if required else get(obj, key, str, where, None)
    if value is not None and not HASH.fullmatch(value):
        raise InvalidInput(f"{where}: \"{key}\" is not a sha256 hash.")
    return value


def _unique(values: list[Any], what: str, where: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise InvalidInput(f"{where}: {what} {value!r} appears twice.")
        seen.add(value)


def _parse_character(obj: Any, where: str) -> dict[str, Any]:
    obj = as_object(obj, where)
    pictures = []
    for i, pic in enumerate(get(obj, "pictures", list, where, [])):
        at = f"{where}.pictures[{i}]"
        pic = as_object(pic, at)
        pictures.append({
            "position": get(pic, "position", int, at), "segmenter": get(pic, "segmenter", str, at, ""),
            "created_at": get_time(pic, "created_at", at),
            **{f: _hash(pic, f, at, required=True) for f in IMAGE_FIELDS},
        })
    _unique([p["position"] for p in pictures], "picture position", where)
    try:
        name, alias = clean_name(get(obj, "name", str, where), "character"), clean_alias(get(obj, "alias", str, where, None))
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from exc
    return {
        "name": name, "name_key": name_key(name), "alias": alias,
        "description": get(obj, "description", str, where, ""), "version": get(obj, "version", int, where),
        "created_at": get_time(obj, "created_at", where), "updated_at": get_time(obj, "updated_at", where),
        "pictures": pictures,
    }


def _parse_render(obj: Any, where: str) -> dict[str, Any]:
    obj = as_object(obj, where)
    status = get(obj, "status", str, where)
    if status not in RENDER_STATUSES:
        raise InvalidInput(f"{where}: unknown render status {status!r}.")
    return {
        "status": status, "engine": get(obj, "engine", str, where),
        "fingerprint": get(obj, "fingerprint", str, where, ""), "params": get(obj, "params", dict, where, {}),
        "seed": get(obj, "seed", int, where, 0), "progress": get(obj, "progress", float, where, 0.0),
        "error": get(obj, "error", str, where, None), "notes": get(obj, "notes", str, where, ""),
        "cancel_requested": get(obj, "cancel_requested", bool, where, False),
        **{f: _hash(obj, f, where, required=False) for f in RENDER_HASH_FIELDS},
        "created_at": get_time(obj, "created_at", where),
        "started_at": get_time(obj, "started_at", where, required=False),
        "finished_at": get_time(obj, "finished_at", where, required=False),
    }


def _character_index(obj: dict[str, Any], key: str, where: str, count: int, *, required: bool) -> Optional[int]:
    index = get(obj, key, int, where) if required else get(obj, key, int, where, None)
    if index is not None and not 0 <= index < count:
        raise InvalidInput(f"{where}: \"{key}\" refers to character {index}, which the bundle lacks.")
    return index


def _parse_panel(obj: Any, where: str, n_characters: int) -> dict[str, Any]:
    obj = as_object(obj, where)
    members = []
    for i, pc in enumerate(get(obj, "characters", list, where, [])):
        at = f"{where}.characters[{i}]"
        pc = as_object(pc, at)
        try:
            box = check_box(get_list(pc, "box", float, at, None))
        except InvalidInput as exc:
            raise InvalidInput(f"{at}: {exc}") from exc
        members.append({"character": _character_index(pc, "character", at, n_characters, required=True),
                        "position": get(pc, "position", int, at, i), "box": list(box) if box else None})
    _unique([m["character"] for m in members], "character", where)
    balloons = []
    for i, b in enumerate(get(obj, "balloons", list, where, [])):
        at = f"{where}.balloons[{i}]"
        b = as_object(b, at)
        kind = get(b, "kind", str, at)
        if kind not in BALLOON_KINDS:
            raise InvalidInput(f"{at}: unknown balloon kind {kind!r}.")
        balloons.append({"speaker": _character_index(b, "speaker", at, n_characters, required=False),
                         "position": get(b, "position", int, at, i), "kind": kind, "text": get(b, "text", str, at)})
    renders = [_parse_render(r, f"{where}.renders[{i}]") for i, r in enumerate(get(obj, "renders", list, where, []))]
    selected = get(obj, "selected_render", int, where, None)
    if selected is not None and not 0 <= selected < len(renders):
        raise InvalidInput(f"{where}: \"selected_render\" {selected} is not one of its {len(renders)} render(s).")
    return {
        "position": get(obj, "position", int, where), "prompt": get(obj, "prompt", str, where, ""),
        "caption": get(obj, "caption", str, where, ""), "seed": get(obj, "seed", int, where),
        "overrides": get(obj, "overrides", dict, where, {}), "version": get(obj, "version", int, where, 1),
        "created_at": get_time(obj, "created_at", where), "updated_at": get_time(obj, "updated_at", where),
        "characters": members, "balloons": balloons, "renders": renders, "selected_render": selected,
    }


def parse_document(document: Any) -> dict[str, Any]:
    """Validate a project.json document; return it with times parsed, or raise InvalidInput."""
    document = as_object(document, "project.json")
    if document.get("format") != FORMAT:
        raise InvalidInput("This zip is not an AnyStory Studio project bundle (project.json has no bundle format name).")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise InvalidInput(
            f"The bundle has format version {version!r}; this AnyStory Studio reads version {VERSION}"
            " (a newer app may have made it)."
        )
    head = as_object(document.get("project"), "project.json: \"project\"")
    where = "project.json: project"
    project = {
        "name": get(head, "name", str, where), "author": get(head, "author", str, where, ""),
        "style": get(head, "style", str, where, "(No style)"),
        "page_settings": get(head, "page_settings", dict, where, {}),
        "render_defaults": get(head, "render_defaults", dict, where, {}),
        "created_at": get_time(head, "created_at", where), "updated_at": get_time(head, "updated_at", where),
    }
    characters = [_parse_character(c, f"project.json: characters[{i}]")
                  for i, c in enumerate(get(document, "characters", list, "project.json", []))]
    _unique([c["name_key"] for c in characters], "character name", "project.json")
    _unique([c["alias"] for c in characters if c["alias"]], "character alias", "project.json")
    panels = [_parse_panel(p, f"project.json: panels[{i}]", len(characters))
              for i, p in enumerate(get(document, "panels", list, "project.json", []))]
    _unique([p["position"] for p in panels], "panel position", "project.json")
    return {"project": project, "characters": characters, "panels": panels}


# --------------------------------------------------------------------------- import: rows

def _insert(session: Session, parsed: dict[str, Any]) -> int:
    """Write the parsed project as new rows (renamed "X (2)" when the name is taken)."""
    head = dict(parsed["project"])
    times = {"created_at": head.pop("created_at"), "updated_at": head.pop("updated_at")}
    project = new_project_row(session, head.pop("name"), rename_if_taken=True, **head)
    characters = []
    for spec in parsed["characters"]:
        spec = dict(spec)
        images = [CharacterImage(**pic) for pic in spec.pop("pictures")]
        characters.append(Character(project_id=project.id, images=images, **spec))
    session.add_all(characters)
    session.flush()
    selections = []
    for spec in parsed["panels"]:
        spec = dict(spec)
        members, balloons, selected = spec.pop("characters"), spec.pop("balloons"), spec.pop("selected_render")
        panel = Panel(
            project_id=project.id, renders=[Render(**r) for r in spec.pop("renders")], **spec,
            characters=[PanelCharacter(character_id=characters[m["character"]].id, position=m["position"], box=m["box"])
                        for m in members],
            balloons=[Balloon(speaker_id=None if b["speaker"] is None else characters[b["speaker"]].id,
                              position=b["position"], kind=b["kind"], text=b["text"]) for b in balloons],
        )
        session.add(panel)
        if selected is not None:
            selections.append((panel, selected))
    session.flush()
    for panel, selected in selections:  # explicit updated_at: keep the bundle's time
        session.execute(update(Panel).where(Panel.id == panel.id).values(
            selected_render_id=panel.renders[selected].id, updated_at=panel.updated_at))
    session.execute(update(Project).where(Project.id == project.id).values(**times))
    return project.id


def _read_document(bundle: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    data = b"".join(_chunks(bundle, info))
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"The bundle's project.json is not valid UTF-8 JSON ({exc}).") from exc
    return parse_document(document)


def import_bundle(studio: Studio, path: str | os.PathLike) -> ProjectView:
    """Import a bundle as a new project (never merged into an existing one)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"No bundle file at {path}.")
    with _damaged_zip_errors(path), zipfile.ZipFile(path) as bundle, \
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
                project_id = _insert(session, parsed)
        except BaseException:
            for digest in placed:
                studio.assets.path(digest).unlink(missing_ok=True)
            raise
    return get_project(studio, project_id)
