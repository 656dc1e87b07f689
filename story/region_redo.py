"""Redo one region of a finished render (engine/region.py): the writer paints a region and
only that region is rendered again. The redo is a new render of the same panel, in the
history with its parent render and region (a mask PNG in the asset store), made with the
parent's snapshot (prompt, characters, boxes, settings) and, by default, a new seed.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image

from engine.region import RegionRedo
from story.db import get_row
from story.errors import InvalidInput, NotFound
from story.latent_assets import load_latents
from story.models import Panel, Render
from story.queue import RESULT_KEYS, SeedChoice, _first_seed
from story.routing_maps import load_routing_maps
from story.studio import Studio
from story.views import RenderView

REDO_DROPPED = RESULT_KEYS + ("variant", "variants", "selected_before")
"""Keys of the parent's params a redo does not inherit."""


def region_mask(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The painted region as a 0/255 mask of the render's `size`: white (or opaque) = redo.
    A mask of another size must have the render's shape; it is scaled to it."""
    if mask.mode in ("RGBA", "LA") and mask.getchannel("A").getextrema()[0] < 255:
        grey = mask.getchannel("A")
    else:
        grey = mask.convert("L")
    if grey.size != size:
        if abs(grey.width * size[1] - grey.height * size[0]) > 0.01 * grey.width * size[1]:
            raise InvalidInput(f"The region mask is {grey.width}x{grey.height}, but the render is "
                               f"{size[0]}x{size[1]}: paint the region on the render itself.")
        grey = grey.resize(size, Image.Resampling.NEAREST)
    inside = np.asarray(grey) > 127
    if not inside.any():
        raise InvalidInput("The region is empty: paint (in white) the part of the panel to render again.")
    return Image.fromarray((inside * 255).astype(np.uint8), "L")


def enqueue_region(studio: Studio, render_id: int, mask: Image.Image, *, engine: str,
                   seed: SeedChoice = "new") -> RenderView:
    """Queue a redo of the painted region of finished render `render_id` (selected when done,
    like a re-render). Raises InvalidInput/NotFound before writing anything."""
    with studio.db.read() as session:
        parent = get_row(session, Render, render_id)
        if parent.status != "done" or parent.image_hash is None:
            raise InvalidInput(f"Render {render_id} is {parent.status}; only a finished render's region can be redone.")
        if parent.engine != engine:
            raise InvalidInput(f"Render {render_id} was made with {parent.engine}; "
                               f"redo its region with --engine {parent.engine}.")
        size = studio.assets.open(parent.image_hash).size
    region_hash = studio.assets.put_image(region_mask(mask, size))
    with studio.db.write() as session:
        parent = session.get(Render, render_id)
        panel = session.get(Panel, parent.panel_id)
        params = {k: v for k, v in parent.params.items() if k not in REDO_DROPPED}
        params.update(select=True, selected_before=panel.selected_render_id)
        job = Render(panel_id=panel.id, engine=engine, seed=_first_seed(panel, seed), params=params,
                     parent_render_id=render_id, region_hash=region_hash)
        session.add(job)
        session.flush()
        return RenderView.of(job)


def redo_for(studio: Studio, render_id: int) -> Optional[RegionRedo]:
    """What the engine needs to run job `render_id` as a region redo; None for a plain render."""
    with studio.db.read() as session:
        job = session.get(Render, render_id)
        if job is None or job.region_hash is None:
            return None
        parent = session.get(Render, job.parent_render_id) if job.parent_render_id else None
        if parent is None or parent.image_hash is None:
            raise NotFound("The render whose region this redoes no longer exists.")
        parent_view = RenderView.of(parent)
    mask = np.asarray(studio.assets.open(job.region_hash).convert("L")) > 127
    latents = load_latents(studio, parent_view.latents_hash) if parent_view.latents_hash else None
    return RegionRedo(studio.assets.open(parent_view.image_hash), mask, latents,
                      load_routing_maps(studio, parent_view) or None)
