"""Between a project's database rows and its bundle document (story/bundle_document.py).

Export builds the records from the rows. Import writes the records as new rows of a new
project and makes them belong to it: character ids inside render parameters are remapped
to the new characters (those the bundle does not hold become "deleted"), `selected_before`
is cleared, a render that was running where the bundle was made is marked failed
("interrupted"; retry runs it again), and panel positions become 0, 1, 2… in their order.
"""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from story.bundle_document import (
    BalloonRecord, BundleDocument, CharacterRecord, MemberRecord, PanelRecord, PictureRecord, ProjectRecord,
    RenderRecord,
)
from story.bundle_quality import link_parents, render_record
from story.models import Balloon, Character, CharacterImage, Panel, PanelCharacter, Project, Render
from story.projects import name_key, new_project_row

INTERRUPTED = "interrupted"
PANEL_RELATIONS = ("characters", "balloons", "renders", "selected_render")


def _load(session: Session, project_id: int) -> Project:
    return session.scalars(
        select(Project).where(Project.id == project_id).options(
            selectinload(Project.characters).selectinload(Character.images),
            selectinload(Project.panels).options(
                selectinload(Panel.characters), selectinload(Panel.balloons), selectinload(Panel.renders),
            ),
        )
    ).one()


def _panel_record(panel: Panel, index_of: dict[int, int]) -> PanelRecord:
    render_ids = [r.id for r in panel.renders]
    fields = {name: getattr(panel, name) for name in PanelRecord.model_fields if name not in PANEL_RELATIONS}
    return PanelRecord(
        **fields,
        characters=[MemberRecord(character=index_of[pc.character_id], position=pc.position, box=pc.box)
                    for pc in panel.characters],
        balloons=[BalloonRecord(speaker=index_of.get(b.speaker_id) if b.speaker_id else None,
                                position=b.position, kind=b.kind, text=b.text) for b in panel.balloons],
        renders=[render_record(r, render_ids) for r in panel.renders],
        selected_render=render_ids.index(panel.selected_render_id) if panel.selected_render_id in render_ids else None,
    )


def _character_record(character: Character) -> CharacterRecord:
    fields = {name: getattr(character, name) for name in CharacterRecord.model_fields if name != "pictures"}
    return CharacterRecord(**fields, pictures=[PictureRecord.model_validate(i) for i in character.images])


def project_document(session: Session, project_id: int) -> BundleDocument:
    """The project as the document stored in a bundle's project.json."""
    project = _load(session, project_id)
    index_of = {c.id: i for i, c in enumerate(project.characters)}
    return BundleDocument(
        project=ProjectRecord.model_validate(project),
        characters=[_character_record(c) for c in project.characters],
        panels=[_panel_record(p, index_of) for p in project.panels],
    )


class _CharacterMap:
    """Old character ids (or, for bundles without ids, names) -> the new characters' ids."""

    def __init__(self, records: list[CharacterRecord], rows: list[Character]) -> None:
        self.by_id = {r.id: row.id for r, row in zip(records, rows) if r.id is not None}
        self.by_name = {name_key(r.name): row.id for r, row in zip(records, rows)}
        self.has_ids = bool(self.by_id)

    def new_id(self, member: Any) -> Optional[int]:
        if not isinstance(member, dict):
            return None
        if self.has_ids:
            return self.by_id.get(member.get("id"))
        name = member.get("name")
        return self.by_name.get(name_key(name)) if isinstance(name, str) else None

    def params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Render parameters whose character ids point at this project's new characters."""
        remapped = dict(params)
        for key in ("characters", "subjects"):
            if isinstance(params.get(key), list):
                remapped[key] = [{**m, "id": self.new_id(m)} if isinstance(m, dict) else m for m in params[key]]
        if "selected_before" in remapped:
            remapped["selected_before"] = None
        return remapped


def _render_row(record: RenderRecord, characters: _CharacterMap) -> Render:
    row = Render(**record.model_dump(exclude={"params", "parent_render"}), params=characters.params(record.params))
    if row.status == "running":
        row.status, row.error, row.finished_at = "failed", INTERRUPTED, row.finished_at or row.started_at
    return row


def _panel_row(project_id: int, position: int, record: PanelRecord, characters: list[Character],
               mapping: _CharacterMap) -> Panel:
    fields = record.model_dump(exclude=set(PANEL_RELATIONS) | {"position"})
    return Panel(
        project_id=project_id, position=position, **fields,
        renders=[_render_row(r, mapping) for r in record.renders],
        characters=[PanelCharacter(character_id=characters[m.character].id, position=m.position, box=m.box)
                    for m in record.characters],
        balloons=[Balloon(speaker_id=None if b.speaker is None else characters[b.speaker].id,
                          position=b.position, kind=b.kind, text=b.text) for b in record.balloons],
    )


def _character_row(project_id: int, record: CharacterRecord) -> Character:
    fields = record.model_dump(exclude={"id", "pictures"})
    images = [CharacterImage(**p.model_dump()) for p in record.pictures]
    return Character(project_id=project_id, name_key=name_key(record.name), images=images, **fields)


def insert_document(session: Session, document: BundleDocument) -> int:
    """Write the document as a new project (renamed "X (2)" when the name is taken)."""
    head = document.project.model_dump(exclude={"created_at", "updated_at"})
    project = new_project_row(session, head.pop("name"), rename_if_taken=True, **head)
    characters = [_character_row(project.id, c) for c in document.characters]
    session.add_all(characters)
    session.flush()
    mapping = _CharacterMap(document.characters, characters)
    ordered = sorted(document.panels, key=lambda p: p.position)
    panels = [_panel_row(project.id, i, p, characters, mapping) for i, p in enumerate(ordered)]
    session.add_all(panels)
    session.flush()
    for panel, record in zip(panels, ordered):
        link_parents(panel.renders, record.renders)
        if record.selected_render is not None:  # explicit updated_at: keep the bundle's time
            session.execute(update(Panel).where(Panel.id == panel.id).values(
                selected_render_id=panel.renders[record.selected_render].id, updated_at=record.updated_at))
    session.execute(update(Project).where(Project.id == project.id).values(
        created_at=document.project.created_at, updated_at=document.project.updated_at))
    return project.id
