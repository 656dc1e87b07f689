"""Redo one region (engine/region.py): outside the region the draft keeps every pixel and
the tiny AnyStory engine every final latent (and pixel); inside, both change."""
import numpy as np
import pytest
import torch

from engine.base import EngineError, PanelRequest, SubjectInput
from engine.draft import DraftGenerator
from engine.region import RegionRedo, render_region
from tests.anystory_helpers import golden_subject, tiny_generator  # noqa: F401  (fixture)
from tests.draft_helpers import three_character_request


def painted(height: int, width: int, rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[rows, cols] = True
    return mask


def test_draft_redraws_only_inside_the_region():
    generator = DraftGenerator()
    first = generator.render(three_character_request(generator, seed=7, return_routing_maps=True))
    region = painted(768, 768, slice(100, 500), slice(200, 600))
    again = three_character_request(generator, seed=8, return_routing_maps=True)
    redone = render_region(generator, again, RegionRedo(first.image, region, None, first.routing_maps))
    before, after = np.asarray(first.image), np.asarray(redone.image)
    assert np.array_equal(before[~region], after[~region])
    assert (before[region] != after[region]).any(axis=1).mean() > 0.2
    for old, new in zip(first.routing_maps, redone.routing_maps):
        assert np.array_equal(old[~region], new[~region])


def test_a_region_must_fit_the_render_and_not_be_empty():
    generator = DraftGenerator()
    first = generator.render(three_character_request(generator))
    request = three_character_request(generator, seed=8)
    with pytest.raises(EngineError, match="region is empty"):
        render_region(generator, request, RegionRedo(first.image, np.zeros((768, 768), bool)))
    with pytest.raises(EngineError, match="not the render's 768x768"):
        render_region(generator, request, RegionRedo(first.image, np.ones((10, 768), bool)))


@pytest.fixture(scope="module")
def tiny_panel(tiny_generator):
    """A 128 x 128, 4-step, two-character panel on the tiny AnyStory engine, and its render."""
    subjects = [SubjectInput(f"s{i}", tiny_generator.encode_subject(*golden_subject(index=i))) for i in (0, 1)]
    request = PanelRequest("two friends", subjects, seed=3, width=128, height=128, steps=4,
                           return_routing_maps=True)
    return request, tiny_generator.render(request)


def cells(latents: np.ndarray) -> np.ndarray:
    """Packed (1, 64, c) latents of a 128 x 128 panel as an 8 x 8 grid of 16-pixel cells."""
    return latents.reshape(8, 8, -1)


def test_anystory_region_redo_keeps_the_final_latents_outside(tiny_generator, tiny_panel):
    request, first = tiny_panel
    assert first.latents.shape == (1, 64, 16)
    region = painted(128, 128, slice(40, 72), slice(36, 90))  # touches cells rows 2-4, cols 2-5
    touched = painted(8, 8, slice(2, 5), slice(2, 6))
    again = PanelRequest(**{**request.__dict__, "seed": 11})
    redone = render_region(tiny_generator, again, RegionRedo(first.image, region, first.latents, first.routing_maps))
    old, new = cells(first.latents), cells(redone.latents)
    assert np.array_equal(old[~touched], new[~touched])
    assert np.abs(old[touched] - new[touched]).max() > 0.1
    before, after = np.asarray(first.image), np.asarray(redone.image)
    assert np.array_equal(before[~region], after[~region])
    assert (before[region] != after[region]).any()
    assert redone.info["original_latents"] == "kept"


def test_anystory_region_redo_without_kept_latents_re_encodes_the_picture(tiny_generator, tiny_panel):
    from engine.anystory.region import reencode

    request, first = tiny_panel
    region = painted(128, 128, slice(0, 16), slice(0, 16))  # one cell
    again = PanelRequest(**{**request.__dict__, "seed": 12})
    redone = render_region(tiny_generator, again, RegionRedo(first.image, region))
    with torch.no_grad():
        encoded = reencode(tiny_generator.components.pipe, first.image, 128, 128).numpy()
    assert redone.info["original_latents"] == "re-encoded with the VAE"
    assert np.array_equal(cells(encoded)[1:], cells(redone.latents)[1:])
    assert not np.array_equal(cells(encoded)[0, 0], cells(redone.latents)[0, 0])
