"""Preparing a character's subject picture (square crop, white outside the mask) and the
checks on a mask; expected geometry is worked out by hand in each test."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from story.characters import prepare_subject, validate_mask


def _picture(width: int = 200, height: int = 160) -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 200, (height, width, 3), dtype=np.uint8))


def _rect(width: int, height: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_square_crop_with_margin_around_the_mask():
    picture = _picture()
    mask = _rect(200, 160, 40, 30, 80, 130)  # 40 wide, 100 high
    subject, subject_mask = prepare_subject(picture, mask)
    # side = 100 * 1.04 = 104, centred on (60, 80): the square starts at (8, 28)
    assert subject.size == subject_mask.size == (104, 104)
    assert subject.mode == "RGB" and subject_mask.mode == "L"
    expected = _rect(104, 104, 32, 2, 72, 102)
    assert np.array_equal(np.asarray(subject_mask) == 255, expected)
    assert set(np.unique(np.asarray(subject_mask))) == {0, 255}
    pixels = np.asarray(subject)
    original = np.asarray(picture)[28:132, 8:112]
    assert np.array_equal(pixels[expected], original[expected])
    assert (pixels[~expected] == 255).all()


def test_the_square_may_reach_beyond_the_picture_and_is_white_there():
    picture = _picture()
    mask = _rect(200, 160, 0, 0, 50, 150)  # touches the top-left corner
    subject, subject_mask = prepare_subject(picture, mask)
    # side = round(150 * 1.04) = 156, centred on (25, 75): starts at (-53, -3)
    assert subject.size == (156, 156)
    expected = _rect(156, 156, 53, 3, 103, 153)
    assert np.array_equal(np.asarray(subject_mask) == 255, expected)
    pixels = np.asarray(subject)
    assert np.array_equal(pixels[expected], np.asarray(picture)[0:150, 0:50].reshape(-1, 3))
    assert (pixels[~expected] == 255).all()


def test_an_irregular_mask_is_cropped_identically():
    picture = _picture()
    yy, xx = np.mgrid[0:160, 0:200]
    mask = (xx - 120) ** 2 + (yy - 70) ** 2 <= 25**2  # disk: bounding box 95..145 x 45..95
    subject, subject_mask = prepare_subject(picture, Image.fromarray(mask.astype(np.uint8) * 255))
    # side = round(51 * 1.04) = 53, centred on (120.5, 70.5): starts at (94, 44)
    assert subject.size == (53, 53)
    assert np.array_equal(np.asarray(subject_mask) == 255, mask[44:97, 94:147])


def test_rgba_picture_gives_an_rgb_subject():
    picture = _picture().convert("RGBA")
    subject, _ = prepare_subject(picture, _rect(200, 160, 10, 10, 30, 30))
    assert subject.mode == "RGB"


def test_empty_mask_is_refused():
    with pytest.raises(ValueError, match="selection is empty"):
        prepare_subject(_picture(), np.zeros((160, 200), bool))


def test_mask_of_another_size_is_refused():
    with pytest.raises(ValueError, match="100 x 80 pixels but the picture is 200 x 160"):
        validate_mask(_picture(), np.ones((80, 100), bool))


def test_mask_over_the_whole_picture_is_accepted_with_a_warning():
    mask, warning = validate_mask(_picture(), np.full((160, 200), 255, np.uint8))
    assert mask.all() and "100%" in warning
    subject, _ = prepare_subject(_picture(), mask)
    assert subject.size == (208, 208)


def test_an_ordinary_mask_has_no_warning():
    _, warning = validate_mask(_picture(), _rect(200, 160, 40, 30, 80, 130))
    assert warning is None


def test_a_colour_mask_array_is_refused():
    with pytest.raises(ValueError, match="single-channel"):
        validate_mask(_picture(), np.zeros((160, 200, 3), np.uint8))
