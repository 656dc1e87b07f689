"""Render history services: list a panel's renders, choose the one the story uses, prune."""
from __future__ import annotations

from sqlalchemy import select

from story.db import get_row
from story.errors import InvalidInput, NotFound
from story.models import Render
from story.panels import _edit, panel_row
from story.vocabulary import PENDING
from story.studio import Studio
from story.views import RenderView


def list_renders(studio: Studio, panel_id: int) -> list[RenderView]:
    """A panel's renders, oldest first, whatever their status."""
    with studio.db.read() as session:
        panel_row(session, panel_id)
        rows = session.scalars(select(Render).where(Render.panel_id == panel_id).order_by(Render.id))
        return [RenderView.of(r) for r in rows]


def get_render(studio: Studio, render_id: int) -> RenderView:
    with studio.db.read() as session:
        return RenderView.of(get_row(session, Render, render_id))


def _panel_render(session, panel_id: int, render_id: int) -> Render:
    row = session.get(Render, render_id)
    if row is None or row.panel_id != panel_id:
        raise NotFound(f"Panel {panel_id} has no render {render_id}.")
    return row


def select_render(studio: Studio, panel_id: int, render_id: int) -> None:
    """Make a finished render of this panel the one the story uses; the panel takes its seed,
    so rendering the panel again repeats the look the writer chose."""
    with studio.db.write() as session:
        row = _panel_render(session, panel_id, render_id)
        if row.status != "done":
            raise InvalidInput(f"Render {render_id} is {row.status}; only finished renders can be selected.")
        panel = _edit(session, panel_id, None)
        panel.selected_render_id, panel.seed = render_id, row.seed


def delete_render(studio: Studio, panel_id: int, render_id: int) -> None:
    """Remove a finished, failed or cancelled render from the panel's history (its picture
    file stays until `gc`). The render the story uses cannot go: choose another first."""
    with studio.db.write() as session:
        row = _panel_render(session, panel_id, render_id)
        if row.status in PENDING:
            raise InvalidInput(f"Render #{render_id} is {row.status}; cancel it before deleting it.")
        panel = panel_row(session, panel_id)
        if panel.selected_render_id == render_id:
            raise InvalidInput(f"Render #{render_id} is the one panel {panel.position + 1} uses; "
                               "choose another render for the panel first.")
        session.delete(row)
