"""Likeness check (engine/likeness.py): a reference against itself scores the maximum, a
shuffled picture lower, on the draft similarity and on the tiny AnyStory engine's SigLIP;
regions come from maps, boxes or placements; blends are flagged."""
import numpy as np
import pytest
from PIL import Image

from engine.base import PanelRequest, RenderResult, SubjectInput, SubjectEncoding
from engine.draft import DraftGenerator
from engine.likeness import DRAFT_EMBEDDER, Embedder, blend_flags, compare, region_maps, score_render
from tests.anystory_helpers import golden_subject, tiny_generator  # noqa: F401  (fixture)
from tests.draft_helpers import BLUE, RED, YELLOW, figure, three_character_request


def shuffled(picture: Image.Image, seed: int = 0) -> Image.Image:
    """The same pixels in a random order (same colours, no shape)."""
    pixels = np.asarray(picture.convert("RGB")).reshape(-1, 3)
    order = np.random.default_rng(seed).permutation(len(pixels))
    return Image.fromarray(pixels[order].reshape(picture.height, picture.width, 3))


def self_and_shuffled(embedder: Embedder, picture: Image.Image, mask: Image.Image) -> tuple[float, float]:
    """Likeness of the whole reference against itself, and of its shuffled pixels."""
    full = Image.new("L", picture.size, 255)
    reference = embedder.embed([(picture, mask)])
    itself = compare(embedder, ["A"], [(picture, mask)], reference).scores[0]
    mixed = compare(embedder, ["A"], [(shuffled(picture), full)], reference).scores[0]
    return itself, mixed


def test_draft_similarity_of_a_cut_out_with_itself_is_the_maximum():
    itself, mixed = self_and_shuffled(DRAFT_EMBEDDER, *figure(RED))
    assert itself == pytest.approx(1.0, abs=1e-6)
    assert mixed < 0.5


def test_siglip_likeness_of_a_cut_out_with_itself_is_the_maximum(tiny_generator):
    from engine.anystory.likeness import siglip_embedder

    picture, mask = golden_subject()
    itself, mixed = self_and_shuffled(siglip_embedder(tiny_generator), picture, mask)
    assert itself == pytest.approx(1.0, abs=1e-5)
    assert mixed < itself - 1e-3


def test_each_draft_character_matches_its_own_region_best():
    generator = DraftGenerator()
    request = three_character_request(generator, return_routing_maps=True)
    result = generator.render(request)
    references = DRAFT_EMBEDDER.embed([figure(c) for c in (RED, BLUE, YELLOW)])
    report = score_render(DRAFT_EMBEDDER, result, request, references)
    matrix = np.array(report.matrix)
    assert report.names == ["c0", "c1", "c2"] and report.flags == []
    assert min(report.scores) > 0.8
    assert all(matrix[i, i] > matrix[i, j] for i in range(3) for j in range(3) if i != j)


def test_regions_come_from_maps_then_boxes_then_placements_then_the_whole_panel():
    encoding = SubjectEncoding("x", {})
    request = PanelRequest("p", [SubjectInput("a", encoding), SubjectInput("b", encoding, (0.5, 0.0, 1.0, 0.5)),
                                 SubjectInput("c", encoding), SubjectInput("d", encoding)], width=8, height=4)
    mapped = np.zeros((4, 8), np.float32)
    mapped[1, 1] = 1.0
    result = RenderResult(Image.new("RGB", (8, 4)), [mapped, np.zeros((4, 8), np.float32)],
                          {"placements": [[0, 0, 1, 1], [0, 0, 1, 1], [2, 0, 4, 2]]})
    a, b, c, d = region_maps(result, request)
    assert a is mapped or np.array_equal(a, mapped)
    assert np.argwhere(b).min(0).tolist() == [0, 4] and np.argwhere(b).max(0).tolist() == [1, 7]
    assert np.argwhere(c).min(0).tolist() == [0, 2] and np.argwhere(c).max(0).tolist() == [1, 3]
    assert d.all()


def test_blend_flags_name_a_region_like_two_characters_and_a_character_like_none():
    matrix = np.array([[0.90, 0.88, 0.10],
                       [0.20, 0.80, 0.10],
                       [0.10, 0.20, 0.30]])
    assert blend_flags(["Mia", "Bo", "Fox"], matrix, match=0.5) == [
        "Mia's region also looks like Bo", "Fox matches no region"]
    assert blend_flags(["Mia", "Bo"], np.array([[0.9, 0.6], [0.2, 0.8]]), match=0.5) == []
