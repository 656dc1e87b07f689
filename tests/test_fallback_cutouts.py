"""The no-weights segmenter on the failure classes of issue 17, each drawn in code with its
true mask: a subject of the background's colour inside an outline, a thin staff, a soft
edge, holes, gaps in an outline and a photo-like background; and clicks that change it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.fallback_segmenter import FallbackSegmenter
from engine.soft_edges import soft_alpha
from segment_helpers import compose, ellipse_mask, gradient_background, iou, plain, rect_mask

H, W = 240, 320
WHITE = (255, 255, 255)


def _outlined(inner: np.ndarray, width: int) -> np.ndarray:
    """The ring of `width` pixels just outside `inner`."""
    from scipy import ndimage

    return ndimage.binary_dilation(inner, iterations=width) & ~inner


def _sheep() -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """A white body (exactly the background's white) inside a 3 px black outline, with a
    grey face: the picture, the whole subject and the white body alone."""
    body = ellipse_mask(H, W, 160, 120, 90, 70)
    face = ellipse_mask(H, W, 110, 110, 25, 30)
    outline = _outlined(body, 3)
    picture = compose(plain(H, W, WHITE), [(outline, (20, 20, 20)), (face, (200, 170, 150))])
    return picture, body | outline, body & ~face


def _staff_figure(background: np.ndarray) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """A figure holding a 3 px wide staff that reaches far beyond it."""
    figure = ellipse_mask(H, W, 150, 140, 40, 70)
    yy, xx = np.mgrid[0:H, 0:W]
    staff = (np.abs((yy - 20) - (xx - 60) * 0.9) / np.hypot(1, 0.9) <= 1.5) & (xx >= 60) & (xx <= 280)
    picture = compose(background, [(figure, (40, 90, 200)), (staff, (140, 90, 30))], noise=2)
    return picture, figure | staff, staff


def test_a_subject_of_the_background_colour_inside_an_outline_is_kept():
    picture, subject, _ = _sheep()
    mask, _ = FallbackSegmenter().segment(picture)
    assert iou(mask, subject) > 0.97


def test_a_negative_click_on_the_enclosed_area_removes_it_and_a_positive_one_brings_it_back():
    picture, subject, body = _sheep()
    segmenter = FallbackSegmenter()
    without, _ = segmenter.segment(picture, [(200, 120, False)])
    assert without[body].mean() < 0.05 and without[subject & ~body].mean() > 0.9
    again, _ = segmenter.segment(picture, [(200, 120, True)])
    assert iou(again, subject) > 0.97


@pytest.mark.parametrize("background", [plain(H, W, (250, 250, 250)),
                                        gradient_background(H, W, (30, 60, 180), (230, 200, 120))])
def test_a_thin_staff_is_kept_whole(background):
    picture, subject, staff = _staff_figure(background)
    mask, _ = FallbackSegmenter().segment(picture)
    assert iou(mask, subject) > 0.93
    assert mask[staff].mean() > 0.9


def test_a_negative_click_on_the_staff_removes_the_staff_only():
    picture, subject, staff = _staff_figure(plain(H, W, (250, 250, 250)))
    on_staff = next((x, y) for y, x in zip(*np.nonzero(staff)) if x > 230)
    mask, _ = FallbackSegmenter().segment(picture, [(float(on_staff[0]), float(on_staff[1]), False)])
    assert mask[staff].mean() < 0.2
    assert iou(mask, subject & ~staff) > 0.93


def _soft_disc(ramp: float) -> tuple[Image.Image, np.ndarray]:
    """A red disc whose edge fades into the background over `ramp` pixels; its true alpha."""
    yy, xx = np.mgrid[0:H, 0:W]
    distance = np.hypot(xx - 160, yy - 120)
    alpha = np.clip((70 - distance) / ramp + 0.5, 0, 1)
    colour = alpha[..., None] * np.array([200, 40, 40]) + (1 - alpha[..., None]) * np.array([240, 240, 235])
    return Image.fromarray(colour.round().astype(np.uint8)), alpha


def test_a_soft_edge_is_cut_at_half_cover_and_its_alpha_follows_the_fade():
    picture, alpha = _soft_disc(ramp=4)
    mask, _ = FallbackSegmenter().segment(picture)
    assert iou(mask, alpha >= 0.5) > 0.98
    estimated = soft_alpha(np.asarray(picture, np.float32), mask)
    edge = (alpha > 0.05) & (alpha < 0.95)
    assert np.abs(estimated[edge] - alpha[edge]).mean() < 0.12
    assert estimated[alpha == 1].min() == 1 and estimated[alpha == 0].max() == 0


def test_a_large_gap_between_arm_and_body_is_background_and_a_click_fills_it():
    """A thick 'C' closed by a bar: the area it surrounds is the background's exact colour."""
    outer = rect_mask(H, W, 60, 40, 260, 200)
    gap = rect_mask(H, W, 110, 80, 210, 160)
    picture = compose(plain(H, W, WHITE), [(outer & ~gap, (230, 150, 40))])
    segmenter = FallbackSegmenter()
    mask, _ = segmenter.segment(picture)
    assert iou(mask, outer & ~gap) > 0.97
    filled, _ = segmenter.segment(picture, [(160, 120, True)])
    assert iou(filled, outer) > 0.97


def test_a_positive_click_inside_an_outline_with_a_gap_takes_what_it_surrounds():
    disc = ellipse_mask(H, W, 160, 120, 80, 80)
    outline = _outlined(disc, 3) & ~rect_mask(H, W, 238, 117, 250, 120)  # a 3 px gap on the right
    picture = compose(plain(H, W, WHITE), [(outline, (10, 10, 10))])
    segmenter = FallbackSegmenter()
    ring_only, _ = segmenter.segment(picture)
    assert ring_only[disc].mean() < 0.05
    whole, _ = segmenter.segment(picture, [(160, 120, True)])
    assert iou(whole, disc | outline) > 0.97


def test_a_box_changes_the_result():
    picture, subject, staff = _staff_figure(plain(H, W, (250, 250, 250)))
    everything, _ = FallbackSegmenter().segment(picture)
    boxed, _ = FallbackSegmenter().segment(picture, box=(100, 60, 200, 215))
    assert boxed.sum() < everything.sum() and not boxed[:, :100].any() and not boxed[:, 200:].any()


def test_grabcut_cuts_a_figure_out_of_a_photo_like_background():
    """Blocks of random colours fill the border: no plain background to flood from."""
    rng = np.random.default_rng(3)
    blocks = rng.integers(60, 256, (H // 16 + 1, W // 16 + 1, 3)).repeat(16, 0).repeat(16, 1)[:H, :W]
    blocks[..., 0] = np.minimum(blocks[..., 0], 150)  # no block as red as the figure
    figure = ellipse_mask(H, W, 160, 120, 60, 80)
    picture = compose(blocks.astype(float), [(figure, (230, 20, 20))], noise=3)
    mask, _ = FallbackSegmenter().segment(picture, [(160, 120, True)], box=(80, 20, 240, 220))
    assert iou(mask, figure) > 0.85
