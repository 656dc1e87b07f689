"""The quality tools' fields of a bundle's renders (story/bundle_document.py RenderRecord):
the likeness report, the region and kept latents (asset hashes, copied like the picture) and,
for a region redo, its parent render as an index into the panel's renders. All are optional,
so bundles made before them import unchanged."""
from __future__ import annotations

from typing import Sequence

from story.bundle_document import RenderRecord
from story.models import Render


def render_record(render: Render, render_ids: Sequence[int]) -> RenderRecord:
    """Export: a render's record with its parent's index among the panel's renders."""
    parent = render_ids.index(render.parent_render_id) if render.parent_render_id in render_ids else None
    return RenderRecord.model_validate(render).model_copy(update={"parent_render": parent})


def link_parents(rows: Sequence[Render], records: Sequence[RenderRecord]) -> None:
    """Import, once the rows have ids: point each redo at its parent's new id."""
    for row, record in zip(rows, records):
        if record.parent_render is not None:
            row.parent_render_id = rows[record.parent_render].id
