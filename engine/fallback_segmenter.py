"""The `fallback` segmenter: a usable cut-out without any model weights (numpy + scipy).

An upload with a real alpha channel is cut along it. Otherwise the background is modelled
from the pixels along the picture's border (or the dragged box's border): a quadratic
colour surface fitted robustly, so gradients and vignettes count as background and an
object touching the border does not spoil the fit. Pixels far from that surface are
foreground; after a morphological clean-up the connected region under the positive click
is kept (the largest one without a click), regions under negative clicks are dropped.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from engine.segment import ImageLike, PixelBox, Point, check_prompts, to_pil

MIN_THRESHOLD = 30.0
"""Smallest RGB distance (0..441) from the background surface that counts as foreground."""

BORDER_SAMPLES = 4096
"""At most this many border pixels feed the background fit (plenty for 18 coefficients)."""


def real_alpha(image: Image.Image) -> Optional[np.ndarray]:
    """The alpha channel as a bool mask when the picture has one that cuts something out."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return None
    alpha = np.asarray(image.convert("RGBA"))[..., 3]
    if alpha.min() == 255 or alpha.max() == 0:
        return None
    return alpha >= 128


def _poly_terms(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """1, x, y, x², xy, y²: enough for linear and radial gradients across a picture."""
    return [np.ones_like(x), x, y, x * x, x * y, y * y]


def fit_border_background(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit a quadratic colour surface (6 x 3 coefficients over x, y in [-1, 1]) to the
    border pixels, ignoring those that belong to an object touching the edge; also return
    the RGB distance above which a pixel is foreground (from the spread of the fit)."""
    h, w = rgb.shape[:2]
    ring = min(2, h, w)
    border = np.zeros((h, w), bool)
    border[:ring], border[-ring:], border[:, :ring], border[:, -ring:] = True, True, True, True
    by, bx = np.nonzero(border)
    step = max(1, by.size // BORDER_SAMPLES)
    by, bx = by[::step], bx[::step]
    design = np.stack(_poly_terms(bx / max(w - 1, 1) * 2 - 1, by / max(h - 1, 1) * 2 - 1), axis=1)
    colours = rgb[by, bx]
    # Start from the half of the border closest to its median colour, then refit on inliers.
    spread = np.linalg.norm(colours - np.median(colours, axis=0), axis=1)
    inliers = spread <= np.median(spread)
    for _ in range(4):
        coef, *_ = np.linalg.lstsq(design[inliers], colours[inliers], rcond=None)
        residual = np.linalg.norm(design @ coef - colours, axis=1)
        centre = np.median(residual[inliers])
        mad = 1.4826 * np.median(np.abs(residual[inliers] - centre))
        inliers = residual <= centre + 3 * mad + 1.0
    return coef.astype(np.float32), max(MIN_THRESHOLD, float(centre + 6 * mad))


def foreground(rgb: np.ndarray) -> np.ndarray:
    """Pixels whose colour is far from the background surface fitted on the border."""
    coef, threshold = fit_border_background(rgb)
    h, w = rgb.shape[:2]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
    c0, cx, cy, cxx, cxy, cyy = coef
    # Evaluated as rows (terms in y alone) plus x times rows: two full-size passes, not six.
    difference = rgb - (c0 + cy * y + cyy * y * y) - (cx + cxy * y) * x - cxx * x * x
    return np.einsum("hwc,hwc->hw", difference, difference) > threshold * threshold


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Drop specks, bridge hairline gaps and fill holes, with a square that grows with the
    picture. Min/max filters are separable (fast); 'reflect' edges keep objects that touch
    the border from being eaten there."""
    size = 2 * max(1, min(mask.shape) // 256) + 1
    opened = ndimage.maximum_filter(ndimage.minimum_filter(mask, size), size)
    closed = ndimage.minimum_filter(ndimage.maximum_filter(opened, size), size)
    return ndimage.binary_fill_holes(closed)


def _component_at(labels: np.ndarray, x: int, y: int) -> int:
    """The region under (x, y), or the nearest region when the click missed by a little."""
    if labels[y, x]:
        return int(labels[y, x])
    _, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    return int(labels[iy[y, x], ix[y, x]])


def select_regions(mask: np.ndarray, points: Sequence[Point]) -> np.ndarray:
    """Keep the regions under positive clicks (else the largest), minus those under negative ones."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return mask
    excluded = {int(labels[int(y), int(x)]) for x, y, positive in points if not positive} - {0}
    chosen = {_component_at(labels, int(x), int(y)) for x, y, positive in points if positive}
    if chosen & excluded:
        raise ValueError(
            "a positive and a negative click fall on the same region, which the fallback "
            "segmenter cannot split; remove one of them (or use SAM)"
        )
    if not chosen:
        sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
        sizes[[i - 1 for i in excluded]] = 0
        chosen = {int(np.argmax(sizes)) + 1} if sizes.max() > 0 else set()
    return np.isin(labels, sorted(chosen))


class FallbackSegmenter:
    """Alpha channel, or border background estimate + connected region under the click."""

    name = "fallback (no SAM weights: alpha channel or background estimate)"

    def segment(
        self,
        image: ImageLike,
        points: Sequence[Point] = (),
        box: Optional[PixelBox] = None,
    ) -> tuple[np.ndarray, float]:
        """Mask and score (1.0 for an alpha cut; else the share of the mask that differs
        clearly from the background). A box restricts the search and supplies its own border."""
        pil = to_pil(image)
        points, box = check_prompts(pil.size, points, box)
        x0, y0, x1, y1 = (0, 0, pil.width, pil.height) if box is None else (
            int(box[0]), int(box[1]), int(np.ceil(box[2])), int(np.ceil(box[3])))
        local = []
        for x, y, positive in points:
            inside = x0 <= x < x1 and y0 <= y < y1
            if positive and not inside:
                raise ValueError(f"the click at ({x:g}, {y:g}) is outside the box {box}")
            if inside:
                local.append((x - x0, y - y0, positive))
        alpha = real_alpha(pil)
        if alpha is not None:
            raw = alpha[y0:y1, x0:x1]
        else:
            raw = foreground(np.asarray(pil.convert("RGB"), dtype=np.float32)[y0:y1, x0:x1])
        selected = select_regions(clean_mask(raw), local)
        mask = np.zeros((pil.height, pil.width), bool)
        mask[y0:y1, x0:x1] = selected
        if not selected.any():
            return mask, 0.0
        score = 1.0 if alpha is not None else float((raw & selected).sum() / selected.sum())
        return mask, score
