"""The Segmenter interface, backend selection, and the no-weights fallback segmenter on
synthetic pictures whose true masks are drawn geometrically."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.base import EngineError
from engine.fallback_segmenter import FallbackSegmenter
from engine.sam_checkpoint import CHECKPOINTS
from engine.segment import Segmenter, SegmenterConfig, create_segmenter, resolve_segmenter
from segment_helpers import compose, ellipse_mask, gradient_background, iou, plain, rect_mask

H, W = 240, 320
FIGURE = ellipse_mask(H, W, 140, 130, 60, 80)
SIGN = rect_mask(H, W, 240, 20, 300, 90)
BACKGROUNDS = {
    "plain white": plain(H, W, (250, 250, 250)),
    "plain dark": plain(H, W, (20, 30, 40)),
    "blue-to-sand gradient": gradient_background(H, W, (30, 60, 180), (230, 200, 120)),
    "grey vignette-like gradient": gradient_background(H, W, (90, 90, 90), (200, 200, 200)),
}


@pytest.fixture(autouse=True)
def no_segmenter_env(monkeypatch, tmp_path):
    for name in ("ANYSTORY_SEGMENTER", "ANYSTORY_SAM_CHECKPOINT", "ANYSTORY_SAM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANYSTORY_SAM_CACHE", str(tmp_path / "sam-cache"))


def _scene(background: str) -> Image.Image:
    return compose(BACKGROUNDS[background], [(FIGURE, (200, 40, 40)), (SIGN, (20, 150, 60))], noise=4)


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_fallback_keeps_the_clicked_shape(background):
    segmenter = FallbackSegmenter()
    figure, score = segmenter.segment(_scene(background), [(140, 130, True)])
    assert iou(figure, FIGURE) > 0.9 and score > 0.9
    sign, _ = segmenter.segment(_scene(background), [(270, 50, True)])
    assert iou(sign, SIGN) > 0.9


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_fallback_without_clicks_keeps_every_part(background):
    """A character and what it holds apart from its body both belong to the cut-out."""
    mask, _ = FallbackSegmenter().segment(_scene(background))
    assert iou(mask, FIGURE | SIGN) > 0.9


def test_negative_click_excludes_its_region():
    mask, _ = FallbackSegmenter().segment(_scene("plain white"), [(140, 130, False)])
    assert iou(mask, SIGN) > 0.9


def test_box_restricts_the_search():
    mask, _ = FallbackSegmenter().segment(_scene("blue-to-sand gradient"), [], (220, 0, 320, 120))
    assert iou(mask, SIGN) > 0.9


def test_a_shape_touching_the_border_on_a_gradient():
    """A bust cut off by the bottom edge: the border fit must ignore the object's pixels."""
    bust = ellipse_mask(H, W, 160, 200, 90, 110)
    picture = compose(BACKGROUNDS["blue-to-sand gradient"], [(bust, (240, 230, 40))], noise=4)
    mask, _ = FallbackSegmenter().segment(picture, [(160, 180, True)])
    assert iou(mask, bust) > 0.9


def test_a_small_background_coloured_area_inside_a_figure_is_kept():
    """An eye white: enclosed, of the background's colour, but small next to the figure."""
    ring = FIGURE & ~ellipse_mask(H, W, 140, 130, 8, 8)
    mask, _ = FallbackSegmenter().segment(compose(BACKGROUNDS["plain white"], [(ring, (10, 10, 10))]))
    assert iou(mask, FIGURE) > 0.9


def test_rgba_upload_is_cut_along_its_alpha():
    """The colours are noise, so only the alpha channel can give the figure."""
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    alpha = np.where(FIGURE | SIGN, 255, 0).astype(np.uint8)
    picture = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    segmenter = FallbackSegmenter()
    figure, score = segmenter.segment(picture, [(140, 130, True)])
    assert iou(figure, FIGURE) > 0.9 and score == 1.0
    both, _ = segmenter.segment(picture, [(140, 130, True), (270, 50, True)])
    assert iou(both, FIGURE | SIGN) > 0.9


def test_opaque_rgba_uses_the_background_estimate():
    picture = _scene("plain white").convert("RGBA")
    mask, _ = FallbackSegmenter().segment(picture, [(140, 130, True)])
    assert iou(mask, FIGURE) > 0.9


def test_plain_picture_gives_an_empty_mask_with_zero_score():
    mask, score = FallbackSegmenter().segment(Image.new("RGB", (64, 48), (200, 210, 220)))
    assert mask.shape == (48, 64) and not mask.any() and score == 0.0


@pytest.mark.parametrize(
    "points, box, message",
    [
        ([(320, 10, True)], None, "outside the picture"),
        ([(-1, 10, True)], None, "outside the picture"),
        ([(10, 10, True)], (200, 0, 320, 120), "outside the box"),
        ([(140, 130, True), (150, 130, False)], None, "same region"),
        ([], (400, 300, 500, 400), "drag a box around"),
        ([(1, 2)], None, r"\(x, y, positive\)"),
    ],
)
def test_bad_prompts_are_refused(points, box, message):
    with pytest.raises(ValueError, match=message):
        FallbackSegmenter().segment(_scene("plain white"), points, box)


def test_fallback_is_a_segmenter_and_says_so():
    segmenter = create_segmenter()
    assert isinstance(segmenter, Segmenter) and segmenter.name.startswith("fallback")


def test_auto_picks_fallback_without_checkpoint_and_sam_with_one(tmp_path, monkeypatch):
    assert resolve_segmenter(SegmenterConfig())[0] == "fallback"
    cached = tmp_path / "sam-cache" / CHECKPOINTS["vit_b"].filename
    cached.parent.mkdir()
    cached.write_bytes(b"x")
    name, reason = resolve_segmenter(SegmenterConfig())
    assert name == "sam" and str(cached) in reason
    assert resolve_segmenter(SegmenterConfig(model_type="vit_h"))[0] == "fallback"
    assert resolve_segmenter(SegmenterConfig(checkpoint=str(cached), model_type="vit_h"))[0] == "sam"


def test_environment_chooses_the_segmenter(tmp_path, monkeypatch):
    torch.manual_seed(0)
    from engine.sam_segmenter import build_tiny_sam

    path = tmp_path / "tiny.pth"
    torch.save(build_tiny_sam().state_dict(), path)
    monkeypatch.setenv("ANYSTORY_SAM_CHECKPOINT", str(path))
    monkeypatch.setenv("ANYSTORY_SAM_MODEL", "tiny")
    assert create_segmenter().name == "sam tiny"
    monkeypatch.setenv("ANYSTORY_SEGMENTER", "fallback")
    assert create_segmenter().name.startswith("fallback")
    assert create_segmenter(backend="sam").name == "sam tiny"


@pytest.mark.parametrize(
    "config, message",
    [
        (SegmenterConfig(backend="magic"), "unknown segmenter"),
        (SegmenterConfig(model_type="vit_x"), "unknown SAM model"),
        (SegmenterConfig(checkpoint="/nowhere/sam.pth"), "does not exist"),
    ],
)
def test_bad_configuration_is_refused(config, message):
    with pytest.raises(EngineError, match=message):
        resolve_segmenter(config)


def test_light_modules_do_not_import_torch():
    code = (
        "import sys, engine.segment, engine.fallback_segmenter, story.characters;"
        "engine.segment.create_segmenter(backend='fallback');"
        "assert 'torch' not in sys.modules and 'segment_anything' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
