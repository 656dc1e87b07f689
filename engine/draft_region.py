"""Region redo on the draft engine: the panel is drawn with the request (its new seed), and
only the pixels inside the region are taken from it; every other pixel is the original's."""
from __future__ import annotations

from typing import Optional

from engine.base import CancelFn, Generator, PanelRequest, ProgressFn, RenderResult
from engine.region import RegionRedo, merge_maps, paste_outside


def redraw_region(generator: Generator, request: PanelRequest, redo: RegionRedo,
                  progress: Optional[ProgressFn] = None, cancel: Optional[CancelFn] = None) -> RenderResult:
    """Re-draw inside `redo.mask` with the draft engine; outside stays the original's pixels."""
    drawn = generator.render(request, progress, cancel)
    maps = merge_maps(drawn.routing_maps, redo.routing_maps, redo.mask)
    info = {**drawn.info, "region_pixels": int(redo.mask.sum())}
    return RenderResult(paste_outside(drawn.image, redo.image, redo.mask), maps, info)
