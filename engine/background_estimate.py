"""Where the background is, without any model: a colour surface fitted on the picture's
border, and the background as the background-coloured area connected to that border.

The border fit is a quadratic colour surface (gradients and vignettes count as background)
fitted robustly, so an object touching the edge does not spoil it. A pixel is
background-coloured when it is close to that surface; the background is what a flood fill
from the border reaches through such pixels. Everything else belongs to the subject,
including background-coloured areas enclosed by its outline (white wool inside a black
line), except large enclosed areas of the exact background colour (the gap between an arm
and the body), which are holes.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

MIN_THRESHOLD = 25.0
"""Smallest RGB distance (0..441) from the background surface at which a pixel stops being
background-coloured (compression noise and anti-aliasing stay below it)."""

BORDER_SAMPLES = 1024
"""At most this many border pixels feed the background fit (plenty for 18 coefficients)."""

PURE_BACKGROUND = 3.0
"""RGB distance under which a pixel is exactly the background colour."""

HOLE_PURITY = 0.8
"""An enclosed area is a hole when at least this share of it is exactly background-coloured..."""

HOLE_MIN_SHARE = 0.015
"""...and it is at least this share of the subject (smaller ones, like eye whites, stay)..."""

HOLE_MAX_OUTSIDE = 0.08
"""...and at most this share of the ring around it is outside background: an area that only
a thin outline separates from the outside is part of the subject (white wool), while a gap
between an arm and the body is surrounded by the subject."""

RING_SHARE = 0.02
"""Width of that ring, as a share of the picture's long side (at least 8 pixels): wider than
an outline."""

MIN_PART_SHARE = 0.002
"""Separate parts smaller than this share of the largest part are specks, not the subject."""

FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)
EIGHT_CONNECTED = np.ones((3, 3), bool)


def _poly_terms(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """1, x, y, x², xy, y²: enough for linear and radial gradients across a picture."""
    return [np.ones_like(x), x, y, x * x, x * y, y * y]


def fit_border_background(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit a quadratic colour surface (6 x 3 coefficients over x, y in [-1, 1]) to the
    border pixels, ignoring those that belong to an object touching the edge; also return
    the RGB distance above which a pixel is not background (from the spread of the fit)."""
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


def background_surface(coef: np.ndarray, height: int, width: int) -> np.ndarray:
    """The fitted background colour at every pixel (H x W x 3 float32)."""
    x = np.linspace(-1, 1, width, dtype=np.float32)[None, :, None]
    y = np.linspace(-1, 1, height, dtype=np.float32)[:, None, None]
    c0, cx, cy, cxx, cxy, cyy = coef
    # Rows (terms in y alone) plus x times rows: two full-size passes, not six.
    return (c0 + cy * y + cyy * y * y) + (cx + cxy * y) * x + cxx * x * x


@dataclass
class BackgroundEstimate:
    """What the border tells about a picture: the background colour at each pixel, how far
    each pixel is from it, and the regions that make up background and subject."""

    background: np.ndarray
    """H x W x 3 float32: the fitted background colour."""
    distance: np.ndarray
    """H x W float32: RGB distance of each pixel from the background colour."""
    threshold: float
    regions: np.ndarray
    """H x W int32 labels of the background-coloured areas (4-connected); 0 elsewhere."""
    outside: np.ndarray
    """Labels (in `regions`) of the areas that touch the border: the background."""
    holes: np.ndarray
    """Labels of enclosed areas that are holes through the subject."""

    def subject(self) -> np.ndarray:
        """Everything that is neither background nor a hole: the subject and its parts."""
        return ~np.isin(self.regions, np.concatenate([self.outside, self.holes]))


def estimate_background(rgb: np.ndarray) -> BackgroundEstimate:
    """Fit the border, flood the background from it and find holes (rgb: H x W x 3 float32)."""
    coef, threshold = fit_border_background(rgb)
    background = background_surface(coef, *rgb.shape[:2])
    difference = rgb - background
    distance = np.sqrt(np.einsum("hwc,hwc->hw", difference, difference))
    regions, count = ndimage.label(distance < threshold, structure=FOUR_CONNECTED)
    edge = np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])
    outside = np.unique(edge[edge > 0])
    return BackgroundEstimate(background, distance, threshold, regions, outside,
                              _holes(distance, regions, count, outside))


def _holes(distance: np.ndarray, regions: np.ndarray, count: int, outside: np.ndarray) -> np.ndarray:
    """Enclosed areas that are large, almost all exactly the background colour, and
    surrounded by the subject rather than by a thin outline."""
    if count == 0:
        return np.zeros(0, np.int64)
    index = np.arange(1, count + 1)
    flat = regions.ravel()
    area = np.bincount(flat, minlength=count + 1)[1:]
    pure = np.bincount(flat, weights=(distance < PURE_BACKGROUND).ravel(), minlength=count + 1)[1:]
    enclosed = ~np.isin(index, outside)
    subject_area = distance.size - area[~enclosed].sum()
    candidates = index[enclosed & (pure >= HOLE_PURITY * area) & (area >= HOLE_MIN_SHARE * subject_area)]
    holes = [label for label in candidates if _outside_share(regions, label, outside) < HOLE_MAX_OUTSIDE]
    return np.array(holes, np.int64)


def _outside_share(regions: np.ndarray, label: int, outside: np.ndarray) -> float:
    """Share of the ring around an area (RING_SHARE wide) that is outside background."""
    width = max(8, round(RING_SHARE * max(regions.shape)))
    rows, cols = ndimage.find_objects((regions == label).astype(np.int8))[0]
    window = (slice(max(rows.start - width, 0), rows.stop + width),
              slice(max(cols.start - width, 0), cols.stop + width))
    area = regions[window] == label
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    ring = cv2.dilate(area.astype(np.uint8), disc).astype(bool) & ~area
    return float(np.isin(regions[window][ring], outside).mean())


def significant_parts(mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Label the mask's separate parts (8-connected); return (labels, count, the labels of
    the parts that are not specks)."""
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if count == 0:
        return labels, 0, np.zeros(0, np.int64)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    keep = np.nonzero(sizes >= max(sizes.max() * MIN_PART_SHARE, 4))[0] + 1
    return labels, count, keep
