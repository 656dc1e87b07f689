"""Fast read of a project's panels as views: three column queries (panels with their
selected render's image, panel characters, balloons) instead of hydrating thousands of
ORM objects. Listing a 500-panel story is what the UI does on every refresh; see
bench/story_bench.py for the figures.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from story.models import Balloon, Character, Panel, PanelCharacter, Render
from story.views import BalloonView, PanelCharacterView, PanelView


def panel_views(session: Session, project_id: int, only: Optional[int] = None) -> list[PanelView]:
    """A project's panels (or just panel `only`) in story order with characters, dialogue
    and selected image."""
    in_project = Panel.project_id == project_id
    if only is not None:
        in_project = in_project & (Panel.id == only)
    members: dict[int, list[PanelCharacterView]] = defaultdict(list)
    for panel_id, character_id, name, alias, box in session.execute(
        select(PanelCharacter.panel_id, PanelCharacter.character_id, Character.name, Character.alias,
               PanelCharacter.box)
        .join(Character, Character.id == PanelCharacter.character_id)
        .join(Panel, Panel.id == PanelCharacter.panel_id).where(in_project)
        .order_by(PanelCharacter.panel_id, PanelCharacter.position)
    ):
        members[panel_id].append(PanelCharacterView(character_id, name, alias, tuple(box) if box else None))
    balloons: dict[int, list[BalloonView]] = defaultdict(list)
    for panel_id, balloon_id, speaker_id, speaker, kind, text in session.execute(
        select(Balloon.panel_id, Balloon.id, Balloon.speaker_id, Character.name, Balloon.kind, Balloon.text)
        .outerjoin(Character, Character.id == Balloon.speaker_id)
        .join(Panel, Panel.id == Balloon.panel_id).where(in_project)
        .order_by(Balloon.panel_id, Balloon.position)
    ):
        balloons[panel_id].append(BalloonView(balloon_id, speaker_id, speaker, kind, text))
    rows = session.execute(
        select(Panel.id, Panel.position, Panel.prompt, Panel.caption, Panel.seed, Panel.overrides,
               Panel.version, Panel.selected_render_id, Render.image_hash)
        .outerjoin(Render, Render.id == Panel.selected_render_id).where(in_project)
        .order_by(Panel.position)
    )
    return [
        PanelView(
            id=pid, project_id=project_id, position=position, prompt=prompt, caption=caption, seed=seed,
            overrides=dict(overrides or {}), version=version, characters=members.get(pid, []),
            balloons=balloons.get(pid, []), selected_render_id=selected, selected_image_hash=image,
        )
        for pid, position, prompt, caption, seed, overrides, version, selected, image in rows
    ]
