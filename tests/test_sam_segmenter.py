"""The sam backend end to end on a tiny random-weight SAM built from segment_anything's own
classes: checkpoint loading through the real path, prompts, and the embedding cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.base import EngineError
from engine.sam_segmenter import SamSegmenter, build_tiny_sam
from engine.segment import Segmenter, create_segmenter


def _picture(seed: int, width: int = 96, height: int = 72) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny SAM's state_dict saved with torch.save, as Meta's checkpoints are."""
    torch.manual_seed(0)
    model = build_tiny_sam()
    path = tmp_path_factory.mktemp("sam") / "sam_tiny.pth"
    torch.save(model.state_dict(), path)
    return path, model.state_dict()


@pytest.fixture
def segmenter(tiny_checkpoint) -> SamSegmenter:
    return create_segmenter(checkpoint=str(tiny_checkpoint[0]), model_type="tiny", backend="sam")


def _encoder_calls(segmenter: SamSegmenter) -> list:
    """Record every forward pass of the real image encoder."""
    calls = []
    segmenter.predictor.model.image_encoder.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_checkpoint_loads_through_the_factory_with_its_weights(segmenter, tiny_checkpoint):
    assert isinstance(segmenter, Segmenter) and segmenter.name == "sam tiny"
    loaded = segmenter.predictor.model.state_dict()
    saved = tiny_checkpoint[1]
    assert loaded.keys() == saved.keys()
    assert all(torch.equal(loaded[k].cpu(), saved[k]) for k in saved)


@pytest.mark.parametrize(
    "points, box",
    [
        ([(10, 20, True)], None),
        ([(10, 20, True), (60, 40, False)], None),
        ([], (5, 5, 80, 60)),
        ([(30, 30, True)], (5, 5, 80, 60)),
        ([], None),
    ],
)
def test_prompts_give_a_mask_of_the_picture_size(segmenter, points, box):
    mask, score = segmenter.segment(_picture(1), points, box)
    assert mask.shape == (72, 96) and mask.dtype == np.bool_
    assert isinstance(score, float) and 0.0 <= score <= 1.0


def test_rgba_and_array_inputs_are_accepted(segmenter):
    rgba = _picture(2).convert("RGBA")
    mask, _ = segmenter.segment(rgba, [(5, 5, True)])
    assert mask.shape == (72, 96)
    mask, _ = segmenter.segment(np.asarray(_picture(2)), [(5, 5, True)])
    assert mask.shape == (72, 96)


def test_second_click_reuses_the_embedding(segmenter):
    calls = _encoder_calls(segmenter)
    first, second = _picture(3), _picture(4)
    segmenter.segment(first, [(10, 10, True)])
    segmenter.segment(first, [(50, 40, True), (12, 12, False)])
    assert len(calls) == 1
    segmenter.segment(np.asarray(first), [], (0, 0, 40, 40))  # same pixels, other type
    assert len(calls) == 1
    segmenter.segment(second, [(10, 10, True)])
    assert len(calls) == 2


def test_going_back_to_an_earlier_picture_restores_its_embedding(segmenter, tiny_checkpoint):
    calls = _encoder_calls(segmenter)
    first = _picture(5)
    before = segmenter.segment(first, [(30, 20, True)])
    segmenter.segment(_picture(6), [(30, 20, True)])
    after = segmenter.segment(first, [(30, 20, True)])
    assert len(calls) == 2
    fresh = SamSegmenter.from_checkpoint(tiny_checkpoint[0], "tiny").segment(first, [(30, 20, True)])
    for result in (after, fresh):
        assert np.array_equal(result[0], before[0]) and result[1] == pytest.approx(before[1])


def test_the_cache_keeps_only_a_few_pictures(segmenter):
    calls = _encoder_calls(segmenter)
    for seed in range(segmenter.cache_size + 1):
        segmenter.segment(_picture(100 + seed), [(1, 1, True)])
    segmenter.segment(_picture(100 + segmenter.cache_size), [(2, 2, True)])  # newest: kept
    assert len(calls) == segmenter.cache_size + 1
    segmenter.segment(_picture(100), [(1, 1, True)])  # oldest: evicted
    assert len(calls) == segmenter.cache_size + 2


def test_points_outside_the_picture_are_refused(segmenter):
    with pytest.raises(ValueError, match="outside the picture"):
        segmenter.segment(_picture(1), [(96, 10, True)])
    with pytest.raises(ValueError, match="drag a box around"):
        segmenter.segment(_picture(1), [], (200, 200, 300, 300))


def test_a_checkpoint_of_another_size_is_refused(tiny_checkpoint):
    with pytest.raises(EngineError, match="does not fit the SAM model vit_b"):
        SamSegmenter.from_checkpoint(tiny_checkpoint[0], "vit_b")


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError, match="not a readable SAM checkpoint"):
        SamSegmenter.from_checkpoint(path, "tiny")
