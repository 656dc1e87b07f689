"""The persistent render queue: jobs are `renders` rows, queued -> running -> done / failed /
cancelled. These services add, cancel and retry jobs; story/worker.py runs them.

Seeds: `seed=None` or "same" uses the panel's seed, "new" draws a fresh one, an int is used
as given; `variants=K` queues K jobs with consecutive seeds (seed, seed + 1, ...).

Selection: a finished render becomes the panel's selected render when the panel has none, or
when its job asked to be selected (`select`, default: a single render, not variants) and the
writer has not selected another render since it was queued. Jobs of K variants thus leave the
choice to the writer, who can always select any finished render of the history.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from story.db import get_row
from story.errors import InvalidInput
from story.models import Panel, Render, utcnow
from story.numbers import MAX_INTEGER
from story.panels import new_seed
from story.projects import ProjectRef, project_row
from story.render_request import load_panel, panel_label, snapshot
from story.studio import Studio
from story.vocabulary import PENDING
from story.views import RenderView

MAX_VARIANTS = 16
SeedChoice = Union[None, int, str]
RESULT_KEYS = ("composed_prompt", "subjects")
"""Keys the worker adds to a job's params when it finishes (not copied by retry)."""
BOOKKEEPING_KEYS = ("select", "selected_before", "variant", "variants")
"""Keys of a job's params that do not change the picture (ignored when spotting duplicates)."""


@dataclass(frozen=True)
class QueuedBatch:
    """Jobs queued for several panels, and the panels left out with the reason."""

    jobs: list[RenderView] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _first_seed(panel: Panel, seed: SeedChoice) -> int:
    if seed is None or seed == "same":
        return panel.seed
    if seed == "new":
        return new_seed()
    if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**63 - MAX_VARIANTS:
        return seed
    raise InvalidInput(f"A seed is a whole number >= 0, 'same' or 'new'; got {seed!r}.")


def _add_jobs(
    session: Session, panel_id: int, engine: str, seed: SeedChoice, variants: int,
    settings: Mapping[str, Any], select_: Optional[bool],
) -> list[Render]:
    if not engine:
        raise InvalidInput("Say which engine renders the panel.")
    if not 1 <= variants <= MAX_VARIANTS:
        raise InvalidInput(f"Variants must be between 1 and {MAX_VARIANTS}; got {variants}.")
    panel = load_panel(session, panel_id)
    params = snapshot(panel, engine, settings)
    params["select"] = variants == 1 if select_ is None else bool(select_)
    params["selected_before"] = panel.selected_render_id
    first = _first_seed(panel, seed)
    if first + variants - 1 > MAX_INTEGER:
        raise InvalidInput(f"The seed {first} leaves no room for {variants} consecutive variant seeds; "
                           "use a smaller seed or 'new'.")
    _refuse_duplicate(session, panel, engine, params, range(first, first + variants))
    rows = [
        Render(panel_id=panel_id, engine=engine, seed=first + i,
               params={**params, "variant": i + 1, "variants": variants})
        for i in range(variants)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _picture_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in BOOKKEEPING_KEYS}


def _refuse_duplicate(session: Session, panel: Panel, engine: str, params: Mapping[str, Any], seeds: range) -> None:
    """Refuse a job that would repeat one already queued or running: same panel, engine, seed
    and settings (ten clicks on Render make one render, not ten)."""
    wanted = _picture_params(params)
    pending = session.scalars(select(Render).where(
        Render.panel_id == panel.id, Render.status.in_(PENDING), Render.engine == engine, Render.seed.in_(list(seeds))))
    for job in pending:
        if _picture_params(job.params) == wanted:
            raise InvalidInput(f"{panel_label(panel)} already has this render {job.status} (#{job.id}, seed "
                               f"{job.seed}); wait for it, or cancel it first.")


def enqueue(
    studio: Studio, panel_id: int, *, engine: str, seed: SeedChoice = None, variants: int = 1,
    settings: Optional[Mapping[str, Any]] = None, select: Optional[bool] = None,
) -> list[RenderView]:
    """Queue `variants` renders of one panel for the worker whose generator is `engine`.
    Raises InvalidInput for an empty panel or bad settings; nothing else is touched."""
    with studio.db.write() as session:
        rows = _add_jobs(session, panel_id, engine, seed, variants, dict(settings or {}), select)
        return [RenderView.of(r) for r in rows]


def _pending_panels(session: Session, project_id: int) -> set[int]:
    return set(session.scalars(
        select(Render.panel_id).join(Panel, Render.panel_id == Panel.id)
        .where(Panel.project_id == project_id, Render.status.in_(PENDING))
    ))


def _enqueue_panels(
    studio: Studio, project: ProjectRef, engine: str, only_missing: bool, seed: SeedChoice,
    settings: Optional[Mapping[str, Any]],
) -> QueuedBatch:
    jobs, skipped = [], []
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        busy = _pending_panels(session, project_id)
        panels = session.scalars(select(Panel).where(Panel.project_id == project_id).order_by(Panel.position))
        for panel in panels.all():
            if panel.id in busy or (only_missing and panel.selected_render_id is not None):
                continue
            if not panel.prompt.strip() and not panel.characters:
                skipped.append(f"{panel_label(panel)}: no prompt and no characters.")
                continue
            jobs += _add_jobs(session, panel.id, engine, seed, 1, dict(settings or {}), None)
        return QueuedBatch([RenderView.of(r) for r in jobs], skipped)


def render_missing(
    studio: Studio, project: ProjectRef, *, engine: str, settings: Optional[Mapping[str, Any]] = None,
) -> QueuedBatch:
    """Queue a render of every panel with no selected render and no render already pending."""
    return _enqueue_panels(studio, project, engine, True, None, settings)


def render_all(
    studio: Studio, project: ProjectRef, *, engine: str, seed: SeedChoice = None,
    settings: Optional[Mapping[str, Any]] = None,
) -> QueuedBatch:
    """Queue a render of every panel without one already pending (each is selected when done)."""
    return _enqueue_panels(studio, project, engine, False, seed, settings)


def _job(session: Session, render_id: int) -> Render:
    return get_row(session, Render, render_id)


def cancel(studio: Studio, render_id: int) -> RenderView:
    """Cancel a job: a queued one at once; a running one stops at the engine's next step."""
    with studio.db.write() as session:
        row = _job(session, render_id)
        if row.status == "queued":
            row.status, row.finished_at = "cancelled", utcnow()
        elif row.status == "running":
            row.cancel_requested = True
        elif row.status in ("done", "failed"):
            raise InvalidInput(f"Render {render_id} has already {'finished' if row.status == 'done' else 'failed'}.")
        session.flush()
        return RenderView.of(row)


def retry(studio: Studio, render_id: int) -> RenderView:
    """Queue a failed or cancelled job again, with the same engine, seed and parameters."""
    with studio.db.write() as session:
        row = _job(session, render_id)
        if row.status not in ("failed", "cancelled"):
            raise InvalidInput(f"Render {render_id} is {row.status}; only failed or cancelled renders can be retried.")
        params = {k: v for k, v in row.params.items() if k not in RESULT_KEYS}
        params["selected_before"] = session.scalar(select(Panel.selected_render_id).where(Panel.id == row.panel_id))
        again = Render(panel_id=row.panel_id, engine=row.engine, seed=row.seed, params=params,
                       parent_render_id=row.parent_render_id, region_hash=row.region_hash)
        session.add(again)
        session.flush()
        return RenderView.of(again)


def jobs(studio: Studio, render_ids: Optional[list[int]] = None, *, pending_only: bool = False,
         project: Optional[ProjectRef] = None) -> list[RenderView]:
    """Jobs by id (or all, or a project's), oldest first; `pending_only` keeps queued and
    running ones."""
    query = select(Render).order_by(Render.id)
    if render_ids is not None:
        query = query.where(Render.id.in_(render_ids))
    if project is not None:
        with studio.db.read() as session:
            project_id = project_row(session, project).id
        query = query.join(Panel, Render.panel_id == Panel.id).where(Panel.project_id == project_id)
    if pending_only:
        query = query.where(Render.status.in_(PENDING))
    with studio.db.read() as session:
        return [RenderView.of(r) for r in session.scalars(query)]


def request_cancel_all(studio: Studio, render_ids: list[int]) -> None:
    """Cancel every pending job among `render_ids` (the CLI does this on Ctrl-C)."""
    with studio.db.write() as session:
        session.execute(update(Render).where(Render.id.in_(render_ids), Render.status == "queued")
                        .values(status="cancelled", finished_at=utcnow()))
        session.execute(update(Render).where(Render.id.in_(render_ids), Render.status == "running")
                        .values(cancel_requested=True))
