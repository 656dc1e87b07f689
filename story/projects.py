"""Project services: create, list, open, rename, update settings, delete.

A project is named by its id or its name (case-insensitive); names are unique.
"""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from story.errors import Conflict, InvalidInput, NotFound
from story.listing import panel_views
from story.models import Character, Panel, Project, utcnow
from story.numbers import fits, whole_number
from story.studio import Studio
from story.views import ProjectSummary, ProjectView

ProjectRef = int | str


def name_key(name: str) -> str:
    """The case-insensitive uniqueness key of a name."""
    return " ".join(name.split()).casefold()


def clean_name(name: str, what: str = "project") -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput(f"The {what} needs a name.")
    if len(cleaned) > 200:
        raise InvalidInput(f"The {what} name is longer than 200 characters.")
    return cleaned


def project_row(session: Session, ref: ProjectRef) -> Project:
    """Find a project by id (int or digits) or by name; NotFound otherwise."""
    row = None
    number = ref if isinstance(ref, int) else whole_number(ref)
    if number is not None and fits(number):
        row = session.get(Project, number)
    if row is None and isinstance(ref, str):
        row = session.scalar(select(Project).where(Project.name_key == name_key(ref)))
    if row is None:
        raise NotFound(f"No project named {ref!r}.")
    return row


def _project_view(session: Session, project_id: int) -> ProjectView:
    """The project's view: characters with their pictures, then the panels (story.listing)."""
    row = session.scalars(
        select(Project).where(Project.id == project_id)
        .options(selectinload(Project.characters).selectinload(Character.images))
    ).one()
    return ProjectView.of(row, panel_views(session, project_id))


def _unique_name(session: Session, wanted: str) -> str:
    """`wanted`, or `wanted (2)`, `(3)`… when taken (used by imports, never silent merges)."""
    name, n = wanted, 1
    while session.scalar(select(Project.id).where(Project.name_key == name_key(name))):
        n += 1
        name = f"{wanted} ({n})"
    return name


def new_project_row(
    session: Session, name: str, *, author: str = "", style: str = "(No style)",
    page_settings: Optional[dict[str, Any]] = None,
    render_defaults: Optional[dict[str, Any]] = None, rename_if_taken: bool = False,
) -> Project:
    """Add a project row in `session` (shared by create and the importers)."""
    name = clean_name(name)
    if rename_if_taken:
        name = _unique_name(session, name)
    elif session.scalar(select(Project.id).where(Project.name_key == name_key(name))):
        raise Conflict(f"A project named {name!r} already exists.")
    row = Project(
        name=name, name_key=name_key(name), author=author, style=style,
        page_settings=page_settings or {}, render_defaults=render_defaults or {},
    )
    session.add(row)
    session.flush()
    return row


def create_project(studio: Studio, name: str, **settings: Any) -> ProjectView:
    """Create an empty project (author, style, page_settings, render_defaults optional)."""
    with studio.db.write() as session:
        row = new_project_row(session, name, **settings)
        return _project_view(session, row.id)


def list_projects(studio: Studio) -> list[ProjectSummary]:
    """All projects, most recently changed first, with panel and character counts."""
    panels = select(func.count(Panel.id)).where(Panel.project_id == Project.id).scalar_subquery()
    chars = select(func.count(Character.id)).where(Character.project_id == Project.id).scalar_subquery()
    with studio.db.read() as session:
        rows = session.execute(
            select(Project, panels, chars).order_by(Project.updated_at.desc(), Project.id.desc())
        ).all()
        return [
            ProjectSummary(p.id, p.name, p.author, p.style, n_panels, n_chars, p.updated_at)
            for p, n_panels, n_chars in rows
        ]


def get_project(studio: Studio, ref: ProjectRef) -> ProjectView:
    """The whole project: settings, characters, panels with their characters and dialogue."""
    with studio.db.read() as session:
        return _project_view(session, project_row(session, ref).id)


def rename_project(studio: Studio, ref: ProjectRef, new_name: str) -> ProjectView:
    with studio.db.write() as session:
        row = project_row(session, ref)
        new_name = clean_name(new_name)
        other = session.scalar(select(Project.id).where(Project.name_key == name_key(new_name)))
        if other is not None and other != row.id:
            raise Conflict(f"A project named {new_name!r} already exists.")
        row.name, row.name_key = new_name, name_key(new_name)
        session.flush()
        return _project_view(session, row.id)


PROJECT_SETTINGS = ("author", "style", "page_settings", "render_defaults")


def update_project(studio: Studio, ref: ProjectRef, **changes: Any) -> ProjectView:
    """Change author, style, page_settings or render_defaults (dicts are replaced whole)."""
    unknown = set(changes) - set(PROJECT_SETTINGS)
    if unknown:
        raise InvalidInput(f"Unknown project setting(s): {', '.join(sorted(unknown))}.")
    with studio.db.write() as session:
        row = project_row(session, ref)
        for key, value in changes.items():
            setattr(row, key, dict(value) if isinstance(value, dict) else value)
        session.flush()
        return _project_view(session, row.id)


def delete_project(studio: Studio, ref: ProjectRef) -> None:
    """Delete a project and everything in it (asset files go at the next `gc`)."""
    with studio.db.write() as session:
        session.delete(project_row(session, ref))


def touch(session: Session, project_id_: int) -> None:
    """Mark a project changed (its list is sorted by last change)."""
    session.execute(update(Project).where(Project.id == project_id_).values(updated_at=utcnow()))
