"""The draft renderer: determinism, layout (boxes and automatic row), routing maps, sizes,
progress/cancel, text and bad input. Characters are flat-coloured synthetic figures so that
where they landed can be read back from the pixels."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.base import EngineError, Generator, PanelRequest, RenderCancelled, SubjectInput
from engine.draft import DraftGenerator, art_box
from engine.registry import EngineConfig, create_generator
from tests.draft_helpers import BLUE, GREEN, RED, YELLOW, figure, subjects, three_character_request

COLOURS = (RED, BLUE, YELLOW, GREEN)


@pytest.fixture(scope="module")
def gen() -> DraftGenerator:
    return DraftGenerator()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def colour_mask(image: Image.Image, colour: tuple[int, int, int], tol: int = 12) -> np.ndarray:
    """Pixels within `tol` of `colour` on every channel."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return np.all(np.abs(pixels - np.asarray(colour, np.int16)) <= tol, axis=-1)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the true pixels, x1/y1 exclusive."""
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def test_is_the_registry_default_and_a_generator() -> None:
    generator = create_generator(EngineConfig())
    assert isinstance(generator, DraftGenerator) and isinstance(generator, Generator)
    assert generator.name == "draft"
    assert "draft" in generator.describe() and "GPU" in generator.describe()


def test_fingerprint_follows_the_algorithm_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = DraftGenerator().fingerprint
    monkeypatch.setattr("engine.draft.DRAFT_VERSION", "999")
    assert DraftGenerator().fingerprint != before


def test_import_does_not_load_torch() -> None:
    code = "import sys, engine.draft; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_encode_keeps_the_cutout_cropped_to_the_mask(gen: DraftGenerator) -> None:
    picture, mask = figure(RED, width=200, height=400, border=30)
    encoding = gen.encode_subject(picture, mask)
    rgba = encoding.tensors["rgba"]
    assert encoding.fingerprint == gen.fingerprint
    assert rgba.dtype == np.uint8 and rgba.shape == (400, 200, 4)
    assert np.array_equal(rgba[..., 3], np.asarray(mask)[30:430, 30:230])
    assert np.all(rgba[rgba[..., 3] == 255][:, :3] == RED)
    again = gen.encode_subject(picture, mask)
    assert np.array_equal(again.tensors["rgba"], rgba)


def test_encode_caps_huge_cutouts_keeping_their_shape(gen: DraftGenerator) -> None:
    picture, mask = figure(BLUE, width=1500, height=3000, border=0)
    h, w, _ = gen.encode_subject(picture, mask).tensors["rgba"].shape
    assert max(h, w) <= 1024 and abs(h / w - 2.0) < 0.01


def test_encode_refuses_empty_or_mismatched_masks(gen: DraftGenerator) -> None:
    picture, mask = figure(RED)
    with pytest.raises(EngineError, match="empty"):
        gen.encode_subject(picture, Image.new("L", picture.size, 0))
    with pytest.raises(EngineError, match="size"):
        gen.encode_subject(picture, mask.resize((10, 10)))


def test_same_request_gives_byte_identical_png(gen: DraftGenerator) -> None:
    request = three_character_request(gen, return_routing_maps=True)
    first = gen.render(request)
    second = DraftGenerator().render(request)
    assert png_bytes(first.image) == png_bytes(second.image)
    for a, b in zip(first.routing_maps, second.routing_maps):
        assert np.array_equal(a, b)


def test_seed_and_prompt_change_the_picture(gen: DraftGenerator) -> None:
    base = three_character_request(gen, seed=1)
    images = [gen.render(base).image,
              gen.render(three_character_request(gen, seed=2)).image,
              gen.render(PanelRequest("a rainy street in the old town", base.subjects, seed=1)).image]
    sky = [np.asarray(im)[60:120].astype(int) for im in images]  # above the characters
    assert np.abs(sky[0] - sky[1]).mean() > 2
    assert np.abs(sky[0] - sky[2]).mean() > 2


def test_box_is_honoured_and_the_character_stands_on_its_bottom(gen: DraftGenerator) -> None:
    box = (0.1, 0.2, 0.45, 0.9)
    request = PanelRequest("a quiet street", subjects(gen, (RED, BLUE), [box, None]), seed=4,
                           return_routing_maps=True)
    result = gen.render(request)
    x0, y0, x1, y1 = 0.1 * 768, 0.2 * 768, 0.45 * 768, 0.9 * 768
    placed = result.routing_maps[0] > 0
    px0, py0, px1, py1 = bbox(placed)
    assert x0 - 1 <= px0 and px1 <= x1 + 1 and y0 - 1 <= py0 and py1 <= y1 + 1
    assert abs(py1 - y1) <= 1, "the character rests on the bottom of its box"
    assert abs((py1 - py0) - (y1 - y0)) <= 2, "a tall figure fills the box's height"
    red = colour_mask(result.image, RED)
    assert not red[~placed].any(), "no red pixel outside the red character's placement"
    assert red.sum() > 0.95 * (result.routing_maps[0] > 0.99).sum()


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_automatic_row_does_not_overlap(gen: DraftGenerator, count: int) -> None:
    request = PanelRequest("friends on a hill", subjects(gen, COLOURS[:count]), seed=count,
                           return_routing_maps=True)
    result = gen.render(request)
    boxes = [bbox(m > 0) for m in result.routing_maps]
    for a, b in zip(boxes, boxes[1:]):
        assert a[2] <= b[0], f"placements {a} and {b} overlap or are out of order"
    for colour, m in zip(COLOURS, result.routing_maps):
        full = m > 0.99
        assert full.sum() > 2000, "each character is clearly visible"
        assert colour_mask(result.image, colour)[full].mean() > 0.95


def test_seed_varies_the_scale_of_automatic_characters(gen: DraftGenerator) -> None:
    chars = subjects(gen, (RED, BLUE))
    heights = set()
    for seed in range(6):
        maps = gen.render(PanelRequest("x", chars, seed=seed, return_routing_maps=True)).routing_maps
        box = bbox(maps[0] > 0)
        heights.add(box[3] - box[1])
    assert len(heights) >= 3


@pytest.mark.parametrize("size", [(1024, 576), (512, 896), (64, 64), (2048, 512)])
def test_any_aspect_ratio(gen: DraftGenerator, size: tuple[int, int]) -> None:
    w, h = size
    request = PanelRequest("two friends at the beach", subjects(gen, (RED, BLUE)), seed=3,
                           width=w, height=h, return_routing_maps=True)
    result = gen.render(request)
    assert result.image.size == (w, h) and result.image.mode == "RGB"
    for m in result.routing_maps:
        assert m.shape == (h, w) and m.dtype == np.float32
        assert m.max() > 0.99 and m.min() >= 0.0


def test_routing_maps_only_on_request(gen: DraftGenerator) -> None:
    request = three_character_request(gen)
    assert gen.render(request).routing_maps is None


def test_later_characters_hide_earlier_ones_in_the_maps(gen: DraftGenerator) -> None:
    same = (0.2, 0.2, 0.8, 0.9)
    request = PanelRequest("x", subjects(gen, (RED, BLUE), [same, same]), return_routing_maps=True)
    maps = gen.render(request).routing_maps
    assert maps[1].max() == 1.0
    assert maps[0].max() < 0.5, "only the blended edge of the hidden character remains"
    assert maps[0].sum() < 0.02 * maps[1].sum()
    assert np.all(maps[0] + maps[1] <= 1.0 + 1e-6)


def test_progress_advances_to_the_total(gen: DraftGenerator) -> None:
    calls: list[tuple[int, int]] = []
    gen.render(three_character_request(gen), progress=lambda s, t: calls.append((s, t)))
    steps = [s for s, _ in calls]
    total = calls[0][1]
    assert len(calls) >= 3 and all(t == total for _, t in calls)
    assert steps == list(range(1, total + 1))


@pytest.mark.parametrize("stop_after", [0, 1, 3])
def test_cancel_stops_between_stages(gen: DraftGenerator, stop_after: int) -> None:
    calls: list[int] = []
    asked = iter(range(100))
    with pytest.raises(RenderCancelled):
        gen.render(three_character_request(gen), progress=lambda s, t: calls.append(s),
                   cancel=lambda: next(asked) >= stop_after)
    assert len(calls) == stop_after


def test_badge_and_prompt_live_in_the_bottom_band_only(gen: DraftGenerator) -> None:
    result = gen.render(PanelRequest("a quiet street " * 30, subjects(gen, (BLUE,)), seed=5,
                                     return_routing_maps=True))
    pixels = np.asarray(result.image).astype(int)
    x0, y0, x1, y1 = art_box(gen.fingerprint, *result.image.size)
    assert (x0, y0, x1) == (0, 0, result.image.width) and 40 < result.image.height - y1 < 90
    band = pixels[y1:]
    badge_red = (band[..., 0] > 170) & (band[..., 1] < 70) & (band[..., 2] < 80)
    assert badge_red[:, :200].sum() > 300, "the red DRAFT badge sits at the left of the band"
    assert np.median(band.mean(axis=-1)) < 60, "the band is dark"
    assert (band.min(axis=-1) > 220).sum() > 100, "light prompt and badge text on it"
    art = pixels[:y1]
    assert not ((art[..., 0] > 170) & (art[..., 1] < 70) & (art[..., 2] < 80)).any(), "no badge in the art"
    assert not result.routing_maps[0][y1:].any(), "no character stands in the band"
    assert art_box("draft-v1", 768, 768) is None and art_box("anystory-x", 768, 768) is None


def test_empty_prompt_with_characters_renders(gen: DraftGenerator) -> None:
    result = gen.render(PanelRequest("", subjects(gen, (RED,)), return_routing_maps=True))
    assert result.routing_maps[0].max() == 1.0


@pytest.mark.parametrize("prompt", ["", "   "])
def test_nothing_to_draw_is_refused(gen: DraftGenerator, prompt: str) -> None:
    with pytest.raises(EngineError, match="no prompt and no characters"):
        gen.render(PanelRequest(prompt))


@pytest.mark.parametrize("size", [(10, 768), (768, 5000), (0, 768), (768.5, 768), ("768", 768),
                                  (4096, 512)])
def test_bad_sizes_are_refused(gen: DraftGenerator, size: tuple) -> None:
    with pytest.raises(EngineError, match="panel"):
        gen.render(PanelRequest("a street", width=size[0], height=size[1]))


def test_numpy_integer_sizes_are_accepted(gen: DraftGenerator) -> None:
    image = gen.render(PanelRequest("a street", width=np.int64(320), height=np.int32(200))).image
    assert image.size == (320, 200)


@pytest.mark.parametrize("box", [(0.5, 0.2, 0.4, 0.9), (0.1, 0.2, 0.4, 1.5), (0.1, 0.2, 0.4)])
def test_bad_boxes_are_refused(gen: DraftGenerator, box: tuple) -> None:
    with pytest.raises(EngineError, match="box of 'c0'"):
        gen.render(PanelRequest("x", subjects(gen, (RED,), [box])))


def test_foreign_encodings_and_parameters_are_refused(gen: DraftGenerator) -> None:
    char = subjects(gen, (RED,))[0]
    foreign = SubjectInput("hero", type(char.encoding)("anystory-x", char.encoding.tensors))
    with pytest.raises(EngineError, match="encode it again"):
        gen.render(PanelRequest("x", [foreign]))
    damaged = SubjectInput("hero", type(char.encoding)(gen.fingerprint, {"rgba": np.zeros((4, 4))}))
    with pytest.raises(EngineError, match="damaged"):
        gen.render(PanelRequest("x", [damaged]))
    with pytest.raises(EngineError, match="no advanced parameters"):
        gen.render(PanelRequest("x", [char], params={"layout_freedom": 0.2}))


def test_unboxed_characters_avoid_boxed_ones() -> None:
    """A boxed character and two free ones: the free ones use the room the box leaves."""
    from engine.draft_layout import place

    sizes = [(100, 200)] * 3
    for box in [(0.0, 0.2, 0.4, 1.0), (0.3, 0.1, 0.7, 1.0), (0.6, 0.3, 1.0, 1.0)]:
        rects = place(sizes, [box, None, None], 768, 768, 700, seed=7)
        for i in range(3):
            for j in range(i + 1, 3):
                a, b = rects[i], rects[j]
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (box, rects)
