"""Routing maps kept with a render: where each character went (issue 8's overlay).

They are stored in the asset store as one greyscale PNG, the maps of the subjects stacked top
to bottom in the order of the render's `params["subjects"]`, each the image's size, with
0..1 quantised to 0..255 (plenty for an overlay, lossless to store, and a PNG like every
other asset, so gc, bundles and the asset checks need nothing new).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from story.errors import InvalidInput
from story.studio import Studio
from story.views import RenderView


def maps_image(maps: Sequence[np.ndarray], size: tuple[int, int]) -> Image.Image:
    """Stack per-subject maps (H x W floats in [0, 1], image `size` = (W, H)) into one image."""
    width, height = size
    for i, grid in enumerate(maps):
        if grid.shape != (height, width):
            raise ValueError(f"routing map {i} is {grid.shape[1]}x{grid.shape[0]}, not the image's {width}x{height}")
    stacked = np.concatenate([np.clip(np.asarray(m, np.float32), 0.0, 1.0) for m in maps], axis=0)
    return Image.fromarray(np.rint(stacked * 255.0).astype(np.uint8), "L")


def split_maps(image: Image.Image, count: int) -> list[np.ndarray]:
    """The per-subject maps (float32 in [0, 1]) of a stacked image of `count` maps."""
    if count < 1 or image.height % count:
        raise InvalidInput(f"A routing-map image of height {image.height} cannot hold {count} maps.")
    values = np.asarray(image.convert("L"), np.float32) / 255.0
    return list(np.split(values, count, axis=0))


def load_routing_maps(studio: Studio, render: RenderView) -> list[np.ndarray]:
    """The maps of a finished render, one per entry of `render.params["subjects"]` ([] if none)."""
    if render.routing_maps_hash is None:
        return []
    return split_maps(studio.assets.open(render.routing_maps_hash), len(render.params.get("subjects", [])))
