"""The `fallback` segmenter: a usable cut-out without any model weights (numpy, scipy, OpenCV).

An upload with a real alpha channel is cut along it. Otherwise (engine/background_estimate.py)
the background is what is connected to the picture's border (or the box's border) through
background-coloured pixels, so areas enclosed by the subject's outline stay with it even
when they have the background's colour, and thin parts (a staff) are kept whole. Without
clicks every part that is not a speck is kept. Clicks change that:

- a positive click keeps only the parts clicked; on an enclosed area taken for a hole, or on
  background that a nearly closed outline surrounds, it adds that area;
- a negative click drops the enclosed area under it, or removes the area of similar colour
  around it from the subject (a staff, a sign held in the hand, a separate part).

On a background that is not plain (a photo), OpenCV's GrabCut decides, seeded from this
estimate, the clicks and the box (engine/grabcut_refine.py). The outline is finally placed
where the subject covers half a pixel (engine/soft_edges.py).
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from engine.background_estimate import (
    EIGHT_CONNECTED,
    BackgroundEstimate,
    estimate_background,
    significant_parts,
)
from engine.grabcut_refine import grabcut_mask
from engine.segment import ImageLike, PixelBox, Point, check_prompts, search_window, to_pil
from engine.soft_edges import snap_to_edges

TEXTURED_THRESHOLD = 60.0
"""A border whose colours spread this far around the fitted surface is no plain background."""

GAP_RADII = (1, 2, 3, 5, 8)
"""Gaps in an outline (pixels) that a positive click on the background may bridge."""

WAND_TOLERANCE = 28
"""Largest step per colour channel between neighbours that a negative click's removal follows."""


def real_alpha(image: Image.Image) -> Optional[np.ndarray]:
    """The alpha channel as a bool mask when the picture has one that cuts something out."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return None
    alpha = np.asarray(image.convert("RGBA"))[..., 3]
    if alpha.min() == 255 or alpha.max() == 0:
        return None
    return alpha >= 128


def choose_parts(mask: np.ndarray, points: Sequence[Point]) -> np.ndarray:
    """Keep the parts under positive clicks; without any, every part that is not a speck."""
    labels, count, significant = significant_parts(mask)
    if count == 0:
        return mask
    chosen = {_part_at(labels, x, y) for x, y, positive in points if positive} - {0}
    return np.isin(labels, sorted(chosen) or significant)


def drop_parts(mask: np.ndarray, points: Sequence[Point]) -> np.ndarray:
    """The mask without the parts under negative clicks."""
    labels, _ = ndimage.label(mask, structure=EIGHT_CONNECTED)
    dropped = {int(labels[int(y), int(x)]) for x, y, positive in points if not positive} - {0}
    return mask & ~np.isin(labels, sorted(dropped))


def _part_at(labels: np.ndarray, x: float, y: float) -> int:
    """The part under (x, y), or the nearest one when the click missed by a little."""
    ix, iy = int(x), int(y)
    if labels[iy, ix]:
        return int(labels[iy, ix])
    _, (ny, nx) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    return int(labels[ny[iy, ix], nx[iy, ix]])


def enclosed_area(estimate: BackgroundEstimate, x: int, y: int) -> Optional[np.ndarray]:
    """The background-coloured area under (x, y) when an outline surrounds it (bridging
    gaps up to GAP_RADII); None when it is open to the border."""
    label = estimate.regions[y, x]
    if label == 0:
        return None
    if label not in estimate.outside:
        return estimate.regions == label
    open_area = estimate.regions == label
    for radius in GAP_RADII:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        wall = cv2.dilate((~open_area).astype(np.uint8), disc, borderType=cv2.BORDER_REPLICATE)
        inside, _ = ndimage.label(wall == 0, structure=EIGHT_CONNECTED)
        here = inside[y, x]
        touches = np.concatenate([inside[0], inside[-1], inside[:, 0], inside[:, -1]])
        if here and here not in touches:
            return cv2.dilate((inside == here).astype(np.uint8), disc).astype(bool) & open_area
    return None


def similar_colour_area(rgb: np.ndarray, within: np.ndarray, x: int, y: int) -> np.ndarray:
    """The area of `within` reached from (x, y) through steps of similar colour (a magic wand)."""
    blockers = np.pad(~within, 1, constant_values=True).astype(np.uint8)
    image = np.ascontiguousarray(rgb.astype(np.uint8))
    flags = 8 | cv2.FLOODFILL_MASK_ONLY | (2 << 8)
    cv2.floodFill(image, blockers, (x, y), 0, (WAND_TOLERANCE,) * 3, (WAND_TOLERANCE,) * 3, flags)
    return (blockers[1:-1, 1:-1] == 2)


def apply_area_clicks(
    estimate: BackgroundEstimate, subject: np.ndarray, points: Sequence[Point]
) -> np.ndarray:
    """Positive clicks add the enclosed background-coloured area under them; negative
    clicks on an enclosed area that was kept drop it."""
    subject = subject.copy()
    for x, y, positive in points:
        ix, iy = int(x), int(y)
        if subject[iy, ix] == positive:
            continue
        area = enclosed_area(estimate, ix, iy)
        if area is not None:
            subject[area] = positive
    return subject


def remove_clicked_colours(rgb: np.ndarray, mask: np.ndarray, points: Sequence[Point]) -> np.ndarray:
    """A negative click that lands on the kept subject removes the similar colours around it."""
    for x, y, positive in points:
        if positive or not mask[int(y), int(x)]:
            continue
        area = similar_colour_area(rgb, mask, int(x), int(y))
        kept = [(px, py) for px, py, p in points if p and area[int(py), int(px)]]
        if kept:
            raise ValueError(
                f"the negative click at ({x:g}, {y:g}) and the positive click at "
                f"({kept[0][0]:g}, {kept[0][1]:g}) fall on the same region of one colour; "
                "remove one of them, or paint the difference with the brush"
            )
        mask = mask & ~area
    return mask


def cut_out(rgb: np.ndarray, points: Sequence[Point]) -> np.ndarray:
    """The subject of `rgb` (H x W x 3 float32, its border is background) for these clicks."""
    estimate = estimate_background(rgb)
    if estimate.threshold >= TEXTURED_THRESHOLD:
        guess = choose_parts(estimate.distance >= estimate.threshold, points)
        return snap_to_edges(rgb, grabcut_mask(rgb.astype(np.uint8), guess, points))
    subject = apply_area_clicks(estimate, estimate.subject(), points)
    mask = remove_clicked_colours(rgb, choose_parts(subject, points), points)
    return choose_parts(snap_to_edges(rgb, mask), points)


class FallbackSegmenter:
    """Alpha channel, or the background connected to the border, refined by the clicks."""

    name = "fallback"

    def segment(self, image: ImageLike, points: Sequence[Point] = (),
                box: Optional[PixelBox] = None) -> tuple[np.ndarray, float]:
        """Mask and score (1.0 when something was cut out, else 0.0). A box restricts the
        search and supplies its own border."""
        pil = to_pil(image)
        points, box = check_prompts(pil.size, points, box)
        x0, y0, x1, y1 = search_window(pil.size, box)
        local = []
        for x, y, positive in points:
            inside = x0 <= x < x1 and y0 <= y < y1
            if positive and not inside:
                raise ValueError(f"the click at ({x:g}, {y:g}) is outside the box {box}")
            if inside:
                local.append((x - x0, y - y0, positive))
        alpha = real_alpha(pil)
        if alpha is not None:
            selected = drop_parts(choose_parts(alpha[y0:y1, x0:x1], local), local)
        else:
            selected = cut_out(np.asarray(pil.convert("RGB"), dtype=np.float32)[y0:y1, x0:x1], local)
        mask = np.zeros((pil.height, pil.width), bool)
        mask[y0:y1, x0:x1] = selected
        return mask, 1.0 if selected.any() else 0.0
