"""Panel services: add, edit, duplicate, delete, reorder; characters with boxes; dialogue.

Every edit of a panel bumps its `version`. Callers that edit what they loaded earlier
(the UI, two tabs, two processes) pass `expected_version`; a stale one raises Conflict and
changes nothing, so no edit is ever silently overwritten.
"""
from __future__ import annotations

import secrets
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.box import Box
from story.db import get_row
from story.characters import CharacterRef, character_row
from story.errors import Conflict, InvalidInput, NotFound
from story.listing import panel_views
from story.models import Balloon, Character, Panel, PanelCharacter
from story.prompts import CharacterText, find_references, unknown_references
from story.projects import ProjectRef, project_row, touch
from story.studio import Studio
from story.views import PanelView
from story.vocabulary import BALLOON_KINDS

CharacterSpec = CharacterRef | tuple[CharacterRef, Optional[Box]]
BalloonSpec = tuple[Optional[CharacterRef], str, str]  # (speaker, kind, text)


def new_seed() -> int:
    return secrets.randbelow(2**31)


def check_box(box: Optional[Sequence[float]]) -> Optional[Box]:
    """A normalised box (x0, y0, x1, y1) with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1."""
    if box is None:
        return None
    try:
        return Box.of(box)
    except ValueError as exc:
        raise InvalidInput(f"{str(exc).capitalize()}.") from None


def panel_row(session: Session, panel_id: int) -> Panel:
    return get_row(session, Panel, panel_id)


def _view(session: Session, panel_id: int) -> PanelView:
    session.flush()
    (view,) = panel_views(session, panel_row(session, panel_id).project_id, only=panel_id)
    return view


def _edit(session: Session, panel_id: int, expected_version: Optional[int]) -> Panel:
    """Load a panel for an edit: check the caller's version, then bump it."""
    row = panel_row(session, panel_id)
    if expected_version is not None and row.version != expected_version:
        raise Conflict(
            f"Panel {row.position + 1} was changed elsewhere (you edited version {expected_version}, "
            f"it is now version {row.version}); reload it and apply your change again."
        )
    row.version += 1
    touch(session, row.project_id)
    return row


def _set_characters(session: Session, row: Panel, characters: Iterable[CharacterSpec]) -> None:
    seen: set[int] = set()
    row.characters.clear()
    session.flush()
    for position, spec in enumerate(characters):
        ref, box = spec if isinstance(spec, tuple) else (spec, None)
        character = character_row(session, row.project_id, ref)
        if character.id in seen:
            raise InvalidInput(f"{character.name} is listed twice in the panel.")
        seen.add(character.id)
        row.characters.append(PanelCharacter(character_id=character.id, position=position, box=check_box(box)))


def _project_texts(session: Session, project_id: int) -> list[CharacterText]:
    rows = session.execute(select(Character.id, Character.name, Character.alias, Character.description)
                           .where(Character.project_id == project_id).order_by(Character.id))
    return [CharacterText(*row) for row in rows]


def _join_named(session: Session, row: Panel, old_prompt: str) -> None:
    """Characters the scene newly names (by name or alias) join the panel, after the others
    and without a box; one the writer took out stays out until the scene names it anew."""
    cast = _project_texts(session, row.project_id)
    before = {c.id for c in find_references(old_prompt, cast)}
    present = {pc.character_id for pc in row.characters}
    for character in find_references(row.prompt, cast):
        if character.id not in before and character.id not in present:
            row.characters.append(PanelCharacter(character_id=character.id, position=len(row.characters)))
            present.add(character.id)


def _set_balloons(session: Session, row: Panel, balloons: Iterable[BalloonSpec]) -> None:
    row.balloons.clear()
    session.flush()
    for position, (speaker, kind, text) in enumerate(balloons):
        if kind not in BALLOON_KINDS:
            raise InvalidInput(f"Unknown balloon kind {kind!r}; use one of {', '.join(BALLOON_KINDS)}.")
        if not (text or "").strip():
            raise InvalidInput("A dialogue balloon needs some text.")
        speaker_id = character_row(session, row.project_id, speaker).id if speaker not in (None, "") else None
        row.balloons.append(Balloon(position=position, speaker_id=speaker_id, kind=kind, text=text.strip()))


def add_panel(
    studio: Studio, project: ProjectRef, *, prompt: str = "", caption: str = "",
    characters: Iterable[CharacterSpec] = (), balloons: Iterable[BalloonSpec] = (),
    seed: Optional[int] = None, overrides: Optional[dict[str, Any]] = None,
    position: Optional[int] = None,
) -> PanelView:
    """Add a panel at the end (or at 0-based `position`, shifting the later ones)."""
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        count = session.scalar(select(func.count(Panel.id)).where(Panel.project_id == project_id))
        position = count if position is None else max(0, min(int(position), count))
        session.execute(
            update(Panel).where(Panel.project_id == project_id, Panel.position >= position)
            .values(position=Panel.position + 1)
        )
        row = Panel(
            project_id=project_id, position=position, prompt=prompt.strip(), caption=caption.strip(),
            seed=new_seed() if seed is None else int(seed), overrides=dict(overrides or {}),
        )
        session.add(row)
        session.flush()
        _set_characters(session, row, characters)
        _join_named(session, row, "")
        _set_balloons(session, row, balloons)
        touch(session, project_id)
        return _view(session, row.id)


def get_panel(studio: Studio, panel_id: int) -> PanelView:
    with studio.db.read() as session:
        panel_row(session, panel_id)
        return _view(session, panel_id)


def panel_id_at(studio: Studio, project: ProjectRef, number: int) -> int:
    """The id of panel `number` (1-based, as writers count) of a project."""
    with studio.db.read() as session:
        project_id = project_row(session, project).id
        found = session.scalar(
            select(Panel.id).where(Panel.project_id == project_id, Panel.position == number - 1)
        )
        if found is None:
            raise NotFound(f"The project has no panel {number}.")
        return found


def list_panels(studio: Studio, project: ProjectRef) -> list[PanelView]:
    """The panels in story order with their characters, dialogue and selected render."""
    with studio.db.read() as session:
        return panel_views(session, project_row(session, project).id)


PANEL_FIELDS = ("prompt", "caption", "seed", "overrides")


def _set_field(row: Panel, key: str, value: Any) -> None:
    if key in ("prompt", "caption"):
        value = (value or "").strip()
    elif key == "seed":
        value = int(value)
    else:
        value = dict(value or {})
    setattr(row, key, value)


def save_panel(
    studio: Studio, panel_id: int, *, expected_version: Optional[int] = None,
    characters: Optional[Iterable[CharacterSpec]] = None, balloons: Optional[Iterable[BalloonSpec]] = None,
    **changes: Any,
) -> PanelView:
    """Change any of prompt, caption, seed, overrides (replaced whole), characters and
    dialogue in one transaction: all of them or, on any error, none. A changed prompt that
    newly names a character (by name or alias) adds it to the panel."""
    unknown = set(changes) - set(PANEL_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown panel field(s): {', '.join(sorted(unknown))}.")
    with studio.db.write() as session:
        row = _edit(session, panel_id, expected_version)
        old_prompt = row.prompt
        for key, value in changes.items():
            _set_field(row, key, value)
        if characters is not None:
            _set_characters(session, row, characters)
        if row.prompt != old_prompt:
            _join_named(session, row, old_prompt)
        if balloons is not None:
            _set_balloons(session, row, balloons)
        return _view(session, panel_id)


def update_panel(
    studio: Studio, panel_id: int, *, expected_version: Optional[int] = None, **changes: Any
) -> PanelView:
    """Change prompt, caption, seed or overrides (a dict, replaced whole)."""
    return save_panel(studio, panel_id, expected_version=expected_version, **changes)


def set_panel_characters(
    studio: Studio, panel_id: int, characters: Iterable[CharacterSpec], *,
    expected_version: Optional[int] = None,
) -> PanelView:
    """Replace the panel's characters (in order), each with an optional normalised box."""
    return save_panel(studio, panel_id, expected_version=expected_version, characters=characters)


def set_dialogue(
    studio: Studio, panel_id: int, balloons: Iterable[BalloonSpec], *,
    expected_version: Optional[int] = None,
) -> PanelView:
    """Replace the panel's dialogue: (speaker or None, kind, text) in reading order."""
    return save_panel(studio, panel_id, expected_version=expected_version, balloons=balloons)


def scene_notes(studio: Studio, view: PanelView, asked: Iterable[str] = ()) -> list[str]:
    """What the writer should hear about a panel's scene: characters that joined because it
    names them (those not in `asked`, the names the writer ticked or listed) and capitalised
    words that name no character (sent to the engine as they are)."""
    with studio.db.read() as session:
        cast = _project_texts(session, view.project_id)
    wanted = {name.casefold() for name in asked}
    joined = [c.name for c in view.characters if c.name.casefold() not in wanted
              and any(r.id == c.character_id for r in find_references(view.prompt, cast))]
    notes = [f"{name} joins panel {view.number}: the scene names it." for name in joined]
    notes += [f"“{word}” in the scene of panel {view.number} names no character; the engine gets it as a plain word."
              for word in unknown_references(view.prompt, cast)]
    return notes


def panels_mentioning(studio: Studio, project: ProjectRef, ref: CharacterRef) -> list[int]:
    """Numbers (1-based) of the panels whose scene names a character by name or alias."""
    with studio.db.read() as session:
        project_id = project_row(session, project).id
        character = character_row(session, project_id, ref)
        texts = [CharacterText(character.id, character.name, character.alias, character.description)]
        prompts = session.execute(select(Panel.position, Panel.prompt).where(Panel.project_id == project_id)
                                  .order_by(Panel.position))
        return [position + 1 for position, prompt in prompts if find_references(prompt, texts)]


def _compact(session: Session, project_id: int) -> None:
    ids = session.scalars(
        select(Panel.id).where(Panel.project_id == project_id).order_by(Panel.position, Panel.id)
    ).all()
    for position, panel_id in enumerate(ids):
        session.execute(update(Panel).where(Panel.id == panel_id).values(position=position))


def delete_panel(studio: Studio, panel_id: int, *, expected_version: Optional[int] = None) -> None:
    """Delete a panel and its render history; later panels move up."""
    with studio.db.write() as session:
        row = _edit(session, panel_id, expected_version)
        project_id = row.project_id
        session.delete(row)
        session.flush()
        _compact(session, project_id)


def _put_in_order(session: Session, project_id: int, panel_ids: Sequence[int]) -> None:
    current = set(session.scalars(select(Panel.id).where(Panel.project_id == project_id)))
    if sorted(panel_ids) != sorted(current):
        raise InvalidInput("The new order must list every panel of the project exactly once.")
    for position, panel_id in enumerate(panel_ids):
        session.execute(
            update(Panel).where(Panel.id == panel_id)
            .values(position=position, version=Panel.version + 1)
        )
    touch(session, project_id)


def reorder_panels(studio: Studio, project: ProjectRef, panel_ids: Sequence[int]) -> list[PanelView]:
    """Put the project's panels in the given order (every panel exactly once)."""
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        _put_in_order(session, project_id, panel_ids)
    return list_panels(studio, project_id)


def move_panel(studio: Studio, panel_id: int, new_position: int) -> list[PanelView]:
    """Move one panel to 0-based `new_position` (clamped), keeping the others' order; the
    order is read inside the write transaction, so panels added meanwhile are kept."""
    with studio.db.write() as session:
        project_id = panel_row(session, panel_id).project_id
        order = [i for i in session.scalars(select(Panel.id).where(Panel.project_id == project_id)
                                            .order_by(Panel.position, Panel.id)) if i != panel_id]
        order.insert(max(0, min(new_position, len(order))), panel_id)
        _put_in_order(session, project_id, order)
    return list_panels(studio, project_id)


def duplicate_panel(studio: Studio, panel_id: int) -> PanelView:
    """Insert a copy of a panel after it: prompt, caption, characters, boxes, dialogue,
    seed and overrides (not its render history)."""
    source = get_panel(studio, panel_id)
    return add_panel(
        studio, source.project_id, prompt=source.prompt, caption=source.caption,
        characters=[(c.character_id, c.box) for c in source.characters],
        balloons=[(b.speaker_id, b.kind, b.text) for b in source.balloons],
        seed=source.seed, overrides=source.overrides, position=source.position + 1,
    )
