"""The quality tools' fields of a bundle's renders (story/bundle_document.py): the likeness
report and, for a region redo, its parent render (an index into the panel's renders). The
region and kept latents are asset hashes like the picture's. All are optional, so bundles
made before them import unchanged."""
from __future__ import annotations

from typing import Any, Sequence

from story.errors import InvalidInput
from story.jsonfields import get
from story.models import Render


def render_fields(render: Render, render_ids: Sequence[int]) -> dict[str, Any]:
    """Export: the likeness report and the parent's index among the panel's renders."""
    parent = render_ids.index(render.parent_render_id) if render.parent_render_id in render_ids else None
    return {"likeness": render.likeness or {}, "parent_render": parent}


def parse_fields(obj: dict[str, Any], where: str) -> dict[str, Any]:
    """Import: the same fields, checked (missing = none)."""
    return {"likeness": get(obj, "likeness", dict, where, {}), "parent_render": get(obj, "parent_render", int, where, None)}


def check_parents(renders: Sequence[dict[str, Any]], where: str) -> None:
    """Every parent index names another render of the same panel."""
    for i, spec in enumerate(renders):
        parent = spec["parent_render"]
        if parent is not None and not (0 <= parent < len(renders) and parent != i):
            raise InvalidInput(f"{where}.renders[{i}]: \"parent_render\" {parent} is not another render of its panel.")


def link_parents(rows: Sequence[Render], parents: Sequence[Any]) -> None:
    """After the rows have ids: point each redo at its parent's new id."""
    for row, parent in zip(rows, parents):
        if parent is not None:
            row.parent_render_id = rows[parent].id
