"""Character services: add, rename, describe, delete.

Names are unique per project case-insensitively; aliases (e.g. "ROLE-A", as AnyStory
storyboard scripts use them) are unique per project. A new picture or mask bumps the
character's version, which makes cached subject encodings of the old version stale;
renaming keeps the version.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from story.errors import Conflict, InvalidInput, NotFound
from story.models import Character, Panel, PanelCharacter
from story.projects import ProjectRef, clean_name, name_key, project_row, touch
from story.studio import Studio
from story.views import CharacterView

CharacterRef = int | str


def clean_alias(alias: Optional[str]) -> Optional[str]:
    alias = (alias or "").strip()
    if not alias:
        return None
    if any(c.isspace() for c in alias) or len(alias) > 100:
        raise InvalidInput(f"The alias {alias!r} must be one word of at most 100 characters.")
    return alias


def character_row(session: Session, project_id: int, ref: CharacterRef) -> Character:
    """Find a character of a project by id, name (case-insensitive) or alias."""
    query = select(Character).where(Character.project_id == project_id)
    if isinstance(ref, int):
        row = session.scalar(query.where(Character.id == ref))
    else:
        row = session.scalar(query.where(Character.name_key == name_key(ref))) or session.scalar(
            query.where(Character.alias == ref.strip())
        )
    if row is None:
        raise NotFound(f"No character {ref!r} in this project.")
    return row


def _check_unique(session: Session, project_id: int, name: str, alias: Optional[str], own_id: Optional[int]) -> None:
    base = select(Character.id).where(Character.project_id == project_id)
    if own_id is not None:
        base = base.where(Character.id != own_id)
    if session.scalar(base.where(Character.name_key == name_key(name))):
        raise Conflict(f"This project already has a character named {name!r}.")
    if alias and session.scalar(base.where(Character.alias == alias)):
        raise Conflict(f"This project already has a character with the alias {alias!r}.")


def new_character_row(
    session: Session, project_id: int, name: str, alias: Optional[str] = None, description: str = ""
) -> Character:
    """Add a character row (shared by the service and the importers)."""
    name, alias = clean_name(name, "character"), clean_alias(alias)
    _check_unique(session, project_id, name, alias, None)
    row = Character(
        project_id=project_id, name=name, name_key=name_key(name), alias=alias,
        description=(description or "").strip(),
    )
    session.add(row)
    session.flush()
    return row


def _view(session: Session, character_id: int) -> CharacterView:
    row = session.scalars(
        select(Character).where(Character.id == character_id).options(selectinload(Character.images))
    ).one()
    return CharacterView.of(row)


def add_character(
    studio: Studio, project: ProjectRef, name: str, *, alias: Optional[str] = None, description: str = ""
) -> CharacterView:
    """Add a character without a picture yet (see set_character_picture)."""
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        row = new_character_row(session, project_id, name, alias, description)
        touch(session, project_id)
        return _view(session, row.id)


def get_character(studio: Studio, project: ProjectRef, ref: CharacterRef) -> CharacterView:
    with studio.db.read() as session:
        return _view(session, character_row(session, project_row(session, project).id, ref).id)


def update_character(
    studio: Studio, project: ProjectRef, ref: CharacterRef, *, name: Optional[str] = None,
    alias: Optional[str] = None, description: Optional[str] = None,
) -> CharacterView:
    """Rename, re-alias or re-describe a character (the version, and so the cached
    encodings, stay: neither the picture nor the mask changed). alias="" removes it."""
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        row = character_row(session, project_id, ref)
        new_name = clean_name(name, "character") if name is not None else row.name
        new_alias = clean_alias(alias) if alias is not None else row.alias
        _check_unique(session, project_id, new_name, new_alias, row.id)
        row.name, row.name_key, row.alias = new_name, name_key(new_name), new_alias
        if description is not None:
            row.description = description.strip()
        touch(session, project_id)
        session.flush()
        return _view(session, row.id)


def panels_using(studio: Studio, project: ProjectRef, ref: CharacterRef) -> list[int]:
    """Numbers (1-based) of the panels a character appears in."""
    with studio.db.read() as session:
        row = character_row(session, project_row(session, project).id, ref)
        positions = session.scalars(
            select(Panel.position).join(PanelCharacter).where(PanelCharacter.character_id == row.id)
            .order_by(Panel.position)
        )
        return [p + 1 for p in positions]


def delete_character(studio: Studio, project: ProjectRef, ref: CharacterRef, *, confirm: bool = False) -> None:
    """Delete a character. When panels use it, `confirm=True` is required; it is then
    removed from those panels (their dialogue lines keep their text, without speaker)."""
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        row = character_row(session, project_id, ref)
        used = session.scalar(
            select(func.count()).select_from(PanelCharacter).where(PanelCharacter.character_id == row.id)
        )
        if used and not confirm:
            raise Conflict(
                f"{row.name} appears in {used} panel(s); confirm to delete the character and remove it from them."
            )
        users = select(PanelCharacter.panel_id).where(PanelCharacter.character_id == row.id)
        session.execute(update(Panel).where(Panel.id.in_(users)).values(version=Panel.version + 1))
        session.delete(row)
        touch(session, project_id)
