"""The project document of a bundle (project.json): built from a project's rows, checked
field by field, and written back as new rows.

It carries every field of the project, its characters with all their pictures, its
panels (characters with boxes, dialogue, seed, overrides, version, times) and each
panel's render history (parameters, status, timings, notes) with the selected render.
Rows refer to each other by list index, never by database id. Left out: cached subject
encodings (recomputed on demand) and which worker process holds a running render (a
machine-local fact; start-up recovery settles such renders).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from story.bundle_quality import check_parents, link_parents, parse_fields, render_fields
from story.characters import clean_alias
from story.errors import InvalidInput
from story.jsonfields import as_object, get, get_list, get_time
from story.models import (
    BALLOON_KINDS, RENDER_STATUSES, Balloon, Character, CharacterImage, Panel, PanelCharacter,
    Project, Render,
)
from story.panels import check_box
from story.projects import clean_name, name_key, new_project_row

FORMAT = "anystory-studio-bundle"
VERSION = 1
HASH = re.compile(r"[0-9a-f]{64}")
IMAGE_FIELDS = ("image_hash", "mask_hash", "subject_hash", "subject_mask_hash")
RENDER_HASH_FIELDS = ("image_hash", "routing_maps_hash", "region_hash", "latents_hash")


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
        "params": render.params, "seed": render.seed,
        **{f: getattr(render, f) for f in RENDER_HASH_FIELDS}, "progress": render.progress,
        "error": render.error, "notes": render.notes, "timings": render.timings,
        "cancel_requested": render.cancel_requested,
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
        "renders": [{**_render_doc(r), **render_fields(r, render_ids)} for r in panel.renders],
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


# --------------------------------------------------------------------------- checking

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
        "timings": get(obj, "timings", dict, where, {}),
        "cancel_requested": get(obj, "cancel_requested", bool, where, False),
        **{f: _hash(obj, f, where, required=False) for f in RENDER_HASH_FIELDS},
        "created_at": get_time(obj, "created_at", where),
        "started_at": get_time(obj, "started_at", where, required=False),
        "finished_at": get_time(obj, "finished_at", where, required=False),
        **parse_fields(obj, where),
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
    check_parents(renders, where)
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


# --------------------------------------------------------------------------- writing

def insert_document(session: Session, parsed: dict[str, Any]) -> int:
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
    selections, parents, panel_rows = [], [], []
    for spec in parsed["panels"]:
        spec = dict(spec)
        members, balloons, selected = spec.pop("characters"), spec.pop("balloons"), spec.pop("selected_render")
        render_specs = [dict(r) for r in spec.pop("renders")]
        parents.append([r.pop("parent_render") for r in render_specs])
        panel = Panel(
            project_id=project.id, renders=[Render(**r) for r in render_specs], **spec,
            characters=[PanelCharacter(character_id=characters[m["character"]].id, position=m["position"], box=m["box"])
                        for m in members],
            balloons=[Balloon(speaker_id=None if b["speaker"] is None else characters[b["speaker"]].id,
                              position=b["position"], kind=b["kind"], text=b["text"]) for b in balloons],
        )
        session.add(panel)
        panel_rows.append(panel)
        if selected is not None:
            selections.append((panel, selected))
    session.flush()
    for panel, panel_parents in zip(panel_rows, parents):
        link_parents(panel.renders, panel_parents)
    for panel, selected in selections:  # explicit updated_at: keep the bundle's time
        session.execute(update(Panel).where(Panel.id == panel.id).values(
            selected_render_id=panel.renders[selected].id, updated_at=panel.updated_at))
    session.execute(update(Project).where(Project.id == project.id).values(**times))
    return project.id
