"""From a panel to a generator request: render settings, the job snapshot, the PanelRequest.

Render settings are read from the project's `render_defaults`, overlaid by the panel's
`overrides`, overlaid by the settings given for one job. Known keys:

- `width`, `height` (pixels, default 768 x 768), `steps` (default 25), `guidance` (3.5);
- `routing_maps` (true/false, default false): also keep where each character went;
- `params`: advanced settings per engine, e.g. `{"anystory": {"...": 0.2}}`; only the entry
  of the engine that renders is used, and layers are merged key by key.

At enqueue time the panel is snapshotted into the job (prompt, style, characters with boxes,
settings), so a job renders what the writer asked for and a retry repeats it exactly. At run
time the characters are looked up again: one deleted since, or without a picture, is rendered
without its cut-out and the render's notes say so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.base import PanelRequest, SubjectInput
from story.encodings import EncodingCache, SubjectSource
from story.errors import InvalidInput, NotFound
from story.models import Character, Panel, PanelCharacter
from story.prompts import CharacterText, compose_prompt
from story.studio import Studio
from story.vocabulary import DEFAULT_RENDER_SETTINGS

_TYPES: dict[str, tuple[type, ...]] = {
    "width": (int,), "height": (int,), "steps": (int,), "guidance": (int, float),
    "routing_maps": (bool,), "params": (dict,),
}


def check_settings(layer: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """Refuse unknown render settings and values of the wrong type (InvalidInput); return `layer`."""
    unknown = set(layer) - set(DEFAULT_RENDER_SETTINGS)
    if unknown:
        raise InvalidInput(
            f"Unknown render setting(s) in {where}: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(DEFAULT_RENDER_SETTINGS)}."
        )
    for key, value in layer.items():
        wrong_bool = isinstance(value, bool) and bool not in _TYPES[key]
        if wrong_bool or not isinstance(value, _TYPES[key]):
            raise InvalidInput(f"The render setting {key!r} in {where} has the wrong type: {value!r}.")
        if key in ("width", "height", "steps") and value < 1:
            raise InvalidInput(f"The render setting {key!r} in {where} must be at least 1.")
        if key == "params" and not all(isinstance(v, dict) for v in value.values()):
            raise InvalidInput(f"'params' in {where} must map engine names to settings, e.g. {{\"anystory\": {{...}}}}.")
    return layer


def resolve_settings(engine: str, *layers: tuple[Mapping[str, Any], str]) -> dict[str, Any]:
    """Overlay (settings, where) layers on the defaults; `params` becomes the flat advanced
    settings of `engine`. Raises InvalidInput naming the layer of a bad key or value."""
    merged = {k: v for k, v in DEFAULT_RENDER_SETTINGS.items() if k != "params"}
    advanced: dict[str, Any] = {}
    for layer, where in layers:
        check_settings(layer, where)
        merged.update({k: v for k, v in layer.items() if k != "params"})
        advanced.update(layer.get("params", {}).get(engine, {}))
    merged["guidance"] = float(merged["guidance"])
    merged["advanced"] = advanced
    return merged


def panel_label(row: Panel) -> str:
    return f"Panel {row.position + 1}"


def load_panel(session: Session, panel_id: int) -> Panel:
    """A panel with its characters (and their pictures) and project loaded."""
    row = session.scalar(select(Panel).where(Panel.id == panel_id).options(
        selectinload(Panel.characters).selectinload(PanelCharacter.character),
        selectinload(Panel.project),
    ))
    if row is None:
        raise NotFound(f"No panel with id {panel_id}.")
    return row


def snapshot(row: Panel, engine: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The job parameters of rendering panel `row` now (refuses an empty panel)."""
    if not row.prompt.strip() and not row.characters:
        raise InvalidInput(
            f"{panel_label(row)} has no prompt and no characters: describe the scene or add a "
            "character before rendering."
        )
    resolved = resolve_settings(
        engine, (row.project.render_defaults or {}, "the project's render defaults"),
        (row.overrides or {}, f"the overrides of {panel_label(row).lower()}"), (settings, "this render"),
    )
    characters = [
        {"id": pc.character_id, "name": pc.character.name, "box": list(pc.box) if pc.box else None}
        for pc in row.characters
    ]
    return {"prompt": row.prompt, "style": row.project.style, "characters": characters, **resolved}


@dataclass
class BuiltRequest:
    """A request ready for the generator, what to tell the writer, and what was used."""

    request: PanelRequest
    notes: list[str]
    subjects: list[dict[str, Any]]


def _characters(studio: Studio, panel_id: int, ids: list[int]) -> dict[int, Character]:
    """The job's characters that still exist; refuses one of another project (a job's
    parameters can come from a bundle made elsewhere)."""
    with studio.db.read() as session:
        project_id = session.scalar(select(Panel.project_id).where(Panel.id == panel_id))
        rows = {row.id: row for row in session.scalars(
            select(Character).where(Character.id.in_(ids)).options(selectinload(Character.images)))}
    foreign = sorted(row.name for row in rows.values() if row.project_id != project_id)
    if foreign:
        raise InvalidInput(f"This render names characters of another project ({', '.join(foreign)}); "
                           "it was not rendered. Queue a new render of the panel.")
    return rows


def build_request(studio: Studio, cache: EncodingCache, params: Mapping[str, Any], seed: int,
                  panel_id: int) -> BuiltRequest:
    """The PanelRequest of a job snapshot of panel `panel_id`, encoding characters through
    `cache` as needed."""
    specs = params["characters"]
    rows = _characters(studio, panel_id, [spec["id"] for spec in specs if spec.get("id") is not None])
    notes: list[str] = []
    texts, subjects, used = [], [], []
    for spec in specs:
        row = rows.get(spec.get("id"))
        if row is None:
            notes.append(f"{spec['name']} was deleted after this render was queued; rendered without it.")
            continue
        texts.append(CharacterText(row.id, row.name, row.alias, row.description))
        source = SubjectSource.of(row)
        if source is None:
            notes.append(f"{row.name} has no picture yet; rendered without it.")
            continue
        box = tuple(spec["box"]) if spec["box"] else None
        subjects.append(SubjectInput(row.name, cache.get(source), box))
        used.append({"id": row.id, "name": row.name, "version": row.version, "box": spec["box"]})
    prompt = compose_prompt(params["prompt"], texts, params["style"])
    if not prompt.strip() and not subjects:
        raise InvalidInput("Nothing to render: the panel has no prompt and none of its characters can be drawn.")
    request = PanelRequest(
        prompt=prompt, subjects=subjects, seed=seed, width=params["width"], height=params["height"],
        steps=params["steps"], guidance=params["guidance"], params=dict(params["advanced"]),
        return_routing_maps=params["routing_maps"],
    )
    return BuiltRequest(request, notes, used)
