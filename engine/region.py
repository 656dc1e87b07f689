"""Redo one region of a finished render: only the painted region is rendered again; the rest
of the picture stays as it was.

`RegionRedo` carries what the engines need of the original render: its picture, the region
(a boolean mask of the picture's size), its final latents when the engine kept them and its
routing maps. Each engine does it its own way: the draft engine re-draws inside the region
(engine/draft_region.py); AnyStory keeps the latents outside the region on the original's
path at every denoising step (engine/anystory/region.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image

from engine.base import CancelFn, EngineError, Generator, PanelRequest, ProgressFn, RenderResult


@dataclass
class RegionRedo:
    """The original render and the region (True = render again) of a region redo."""

    image: Image.Image
    mask: np.ndarray
    latents: Optional[np.ndarray] = None
    routing_maps: Optional[list[np.ndarray]] = None

    def check(self, request: PanelRequest) -> None:
        """EngineError unless the region fits the request's picture and is not empty."""
        if self.image.size != (request.width, request.height):
            raise EngineError(f"the original render is {self.image.width}x{self.image.height}, but the panel "
                              f"is now {request.width}x{request.height}; a region can only be redone at its size")
        if self.mask.shape != (request.height, request.width):
            raise EngineError(f"the region is {self.mask.shape[1]}x{self.mask.shape[0]}, "
                              f"not the render's {request.width}x{request.height}")
        if not self.mask.any():
            raise EngineError("the region is empty: paint the part of the panel to render again")


def paste_outside(new: Image.Image, original: Image.Image, inside: np.ndarray) -> Image.Image:
    """`new` inside the region, `original` (pixel for pixel) everywhere else."""
    picked = np.where(inside[..., None], np.asarray(new.convert("RGB")), np.asarray(original.convert("RGB")))
    return Image.fromarray(picked.astype(np.uint8), "RGB")


def merge_maps(new: Optional[list[np.ndarray]], original: Optional[list[np.ndarray]],
               inside: np.ndarray) -> Optional[list[np.ndarray]]:
    """Routing maps of a redone picture: the new ones inside the region, the original outside."""
    if not new or not original or len(new) != len(original):
        return new
    return [np.where(inside, n, o).astype(np.float32) for n, o in zip(new, original)]


def render_region(generator: Generator, request: PanelRequest, redo: RegionRedo,
                  progress: Optional[ProgressFn] = None, cancel: Optional[CancelFn] = None) -> RenderResult:
    """Render `request` again inside `redo.mask` only, with the engine's own method."""
    redo.check(request)
    if generator.name == "anystory":
        from engine.anystory.region import render_region as anystory_region

        return anystory_region(generator, request, redo, progress, cancel)
    if generator.fingerprint.startswith("draft"):
        from engine.draft_region import redraw_region

        return redraw_region(generator, request, redo, progress, cancel)
    raise EngineError(f"the {generator.name} engine cannot redo one region of a render")
