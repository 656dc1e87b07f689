"""The Characters tab's handlers, called in-process on a real Studio: uploads through the
app's image checks, clicks, box, brush, mask upload, saving at the original size, delete.
Each handler returns a dict keyed by component."""
from __future__ import annotations

import io
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from app.character_selection import ADD_COLOUR, REMOVE_COLOUR, WORK_SIDE
from app.characters_tab import MODES, CharactersTab
from app.common import user_errors
from app.context import AppContext
from engine.registry import EngineConfig
from engine.segment import SegmenterConfig
from segment_helpers import compose, ellipse_mask, iou, plain
from story import characters, panels, projects
from story.errors import InvalidInput

H, W = 240, 320
FIGURE = ellipse_mask(H, W, 160, 130, 60, 80)
BADGE = ellipse_mask(H, W, 280, 40, 20, 20)


@pytest.fixture
def tab(studio, tmp_path, monkeypatch):
    monkeypatch.setenv("ANYSTORY_SAM_CACHE", str(tmp_path / "no-sam"))
    ctx = AppContext(studio, EngineConfig(engine="draft"), SegmenterConfig(backend="fallback"))
    with gr.Blocks():
        built = CharactersTab(ctx, gr.State(None))
    built.project_id = projects.create_project(studio, "Cast").id
    return built


def _upload(tmp_path: Path, image: Image.Image, name: str = "upload.png", fmt: str = "PNG") -> str:
    """A file as Gradio leaves an upload: in its own folder of the upload cache."""
    folder = tmp_path / "gradio" / name
    folder.mkdir(parents=True)
    path = folder / name
    image.save(path, format=fmt)
    return str(path)


def _scene() -> Image.Image:
    return compose(plain(H, W, (250, 250, 250)), [(FIGURE, (200, 40, 40)), (BADGE, (30, 120, 200))], noise=2)


def _click(x: float, y: float) -> gr.SelectData:
    return gr.SelectData(None, {"index": [x, y], "value": None})


def test_refresh_lists_the_cast_and_says_what_cuts_out_in_words(tab, studio):
    characters.add_character(studio, tab.project_id, "Mira")
    shown = tab.refresh(tab.project_id)
    assert [caption for _, caption in shown[tab.cast]] == ["Mira"]
    assert "Built-in cut-out" in shown[tab.note] and "--" not in shown[tab.note]
    assert shown[tab.current] is None and shown[tab.picture] is None


def test_opening_the_tab_lists_the_cast_afresh_and_leaves_the_form(tab, studio):
    characters.add_character(studio, tab.project_id, "Mira", alias="ROLE-A")  # e.g. in another browser tab
    opened = tab.tab_opened(tab.project_id)
    assert list(opened) == [tab.cast]  # the form is left as it is
    assert [caption for _, caption in opened[tab.cast]] == ["Mira · ROLE-A"]
    assert tab.tab_opened(None) == {tab.cast: []}


def test_an_upload_is_cut_out_at_once_and_leaves_gradio_s_folder(tab, tmp_path):
    path = _upload(tmp_path, _scene())
    shown = tab.uploaded(path)
    sel = shown[tab.selection]
    assert iou(sel.mask, FIGURE | BADGE) > 0.9 and sel.segmenter == "fallback"
    preview = shown[tab.preview]
    light, dark = preview.getpixel((2, 2)), preview.getpixel((preview.width - 3, 2))
    assert sum(light) > 600 and sum(dark) < 150  # the same cut-out on a light and a dark ground
    assert not Path(path).exists() and not Path(path).parent.exists()


def test_a_picture_with_transparency_is_cut_along_it_at_once(tab, tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    alpha = np.where(FIGURE, 255, 0).astype(np.uint8)
    sel = tab.uploaded(_upload(tmp_path, Image.fromarray(np.dstack([rgb, alpha]), "RGBA")))[tab.selection]
    assert np.array_equal(sel.mask, FIGURE) and sel.segmenter == "transparency of the picture"


@pytest.mark.parametrize("content, message", [
    (b"this is a story, not a picture", "not a readable PNG, JPEG or WebP"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", "corrupt or truncated"),
])
def test_a_non_image_or_truncated_upload_gets_the_cli_s_message(tab, tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        tab.uploaded(str(path))
    assert not path.exists()  # refused uploads leave Gradio's folder too
    path.write_bytes(content)
    with pytest.warns(UserWarning, match=message):  # in the app: a warning toast, outputs kept
        assert user_errors(tab.uploaded)(str(path)) == gr.skip()


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "GIF"])
def test_formats_the_cli_refuses_are_refused_in_the_app(tab, tmp_path, fmt):
    with pytest.raises(InvalidInput, match=f"is {fmt}; use PNG, JPEG or WebP"):
        tab.uploaded(_upload(tmp_path, _scene(), f"x.{fmt.lower()}", fmt))


def test_a_large_picture_is_worked_on_as_a_copy_and_saved_whole(tab, tmp_path, studio):
    big = _scene().resize((W * 8, H * 8), Image.Resampling.NEAREST)  # 2560 x 1920
    sel = tab.uploaded(_upload(tmp_path, big))[tab.selection]
    assert max(sel.image.size) == WORK_SIDE and sel.original.size == big.size
    sel = tab.clicked(sel, MODES[0], _click(160 * WORK_SIDE / 2560, 130 * WORK_SIDE / 2560))[tab.selection]
    tab.save(tab.project_id, None, "Big", "", "", sel)
    stored = characters.get_character(studio, tab.project_id, "Big")
    assert studio.assets.open(stored.image_hash).size == big.size
    mask = characters.mask_array(studio.assets.open(stored.mask_hash))
    truth = np.asarray(Image.fromarray(FIGURE).resize(big.size, Image.Resampling.NEAREST))
    assert iou(mask, truth) > 0.95


def test_clicks_choose_and_exclude_and_a_box_takes_two_corners(tab, tmp_path):
    sel = tab.uploaded(_upload(tmp_path, _scene()))[tab.selection]
    figure = tab.clicked(sel, MODES[0], _click(160, 130))[tab.selection]
    assert iou(figure.mask, FIGURE) > 0.9
    sel = tab.cleared(figure)[tab.selection]
    assert sel.points == [] and iou(sel.mask, FIGURE | BADGE) > 0.9
    without_badge = tab.clicked(sel, MODES[1], _click(280, 40))[tab.selection]
    assert iou(without_badge.mask, FIGURE) > 0.9
    sel = tab.cleared(without_badge)[tab.selection]
    first = tab.clicked(sel, MODES[2], _click(240, 5))
    assert tab.preview not in first and first[tab.selection].corner == (240, 5)
    boxed = tab.clicked(first[tab.selection], MODES[2], _click(319, 80))[tab.selection]
    assert iou(boxed.mask, BADGE) > 0.9


def test_a_refused_click_is_not_kept(tab, tmp_path):
    sel = tab.uploaded(_upload(tmp_path, _scene()))[tab.selection]
    sel = tab.clicked(sel, MODES[2], _click(10, 10))[tab.selection]
    with pytest.raises(gr.Error, match="under a pixel"):
        tab.clicked(sel, MODES[2], _click(10.2, 100))
    assert sel.box is None and sel.corner is None
    assert iou(tab.clicked(sel, MODES[0], _click(160, 130))[tab.selection].mask, FIGURE) > 0.9


def _strokes(mask: np.ndarray, colour: str) -> np.ndarray:
    """An ImageEditor layer: `colour` where `mask`, transparent elsewhere."""
    layer = np.zeros((*mask.shape, 4), np.uint8)
    layer[mask] = [int(colour[i:i + 2], 16) for i in (1, 3, 5)] + [255]
    return layer


def test_the_brush_adds_and_removes_parts(tab, tmp_path):
    sel = tab.clicked(tab.uploaded(_upload(tmp_path, _scene()))[tab.selection], MODES[0], _click(160, 130))[tab.selection]
    assert tab.brush_opened(sel)[tab.brush]["background"].size == (W, H)
    patch = np.zeros((H, W), bool)
    patch[10:30, 10:60] = True
    top = FIGURE & (np.mgrid[0:H, 0:W][0] < 100)
    shown = tab.brush_applied(sel, {"layers": [_strokes(patch, ADD_COLOUR) | _strokes(top, REMOVE_COLOUR)]})
    mask = shown[tab.selection].mask
    assert mask[patch].all() and not mask[top].any() and mask[FIGURE & ~top].mean() > 0.95
    assert shown[tab.brush]["layers"] == []
    with pytest.raises(ValueError, match="Nothing was painted"):
        tab.brush_applied(sel, {"layers": [np.zeros((H, W, 4), np.uint8)]})


def test_an_uploaded_mask_replaces_the_cut_out_and_must_fit(tab, tmp_path):
    sel = tab.uploaded(_upload(tmp_path, _scene()))[tab.selection]
    mask_image = Image.fromarray(BADGE.astype(np.uint8) * 255)
    sel = tab.mask_uploaded(sel, _upload(tmp_path, mask_image, "mask.png"))[tab.selection]
    assert np.array_equal(sel.mask, BADGE) and sel.segmenter == "mask file"
    with pytest.raises(ValueError, match="use a mask made for this picture"):
        tab.mask_uploaded(sel, _upload(tmp_path, mask_image.resize((100, 100)), "small.png"))


def test_save_pick_update_and_delete(tab, tmp_path, studio):
    sel = tab.clicked(tab.uploaded(_upload(tmp_path, _scene()))[tab.selection], MODES[0], _click(160, 130))[tab.selection]
    shown = tab.save(tab.project_id, None, "Mira", "ROLE-A", "a girl", sel)
    assert [c for _, c in shown[tab.cast]] == ["Mira · ROLE-A"] and shown[tab.name] == ""
    picked = tab.pick(tab.project_id, gr.SelectData(None, {"index": 0, "value": None}))
    assert picked[tab.name] == "Mira" and iou(picked[tab.selection].mask, FIGURE) > 0.9
    assert not picked[tab.selection].changed
    blank = tab.empty_form()  # "+ New character" while Mira is in the form
    assert (blank[tab.current], blank[tab.name], blank[tab.alias], blank[tab.picture]) == (None, "", "", None)
    assert blank[tab.selection].image is None and blank[tab.preview] is None
    tab.save(tab.project_id, picked[tab.current], "Mira", "", "a girl with a badge", picked[tab.selection])
    stored = characters.get_character(studio, tab.project_id, "Mira")
    assert stored.version == 1 and stored.alias is None and stored.description == "a girl with a badge"
    panels.add_panel(studio, tab.project_id, prompt="Mira waits", characters=[("Mira", None)])
    asked = tab.ask_delete(tab.project_id, stored.id)
    assert "appears in panel 1" in asked[tab.confirm_text] and asked[tab.confirm_box]["visible"]
    assert tab.kept()[tab.confirm_box]["visible"] is False
    gone = tab.delete(tab.project_id, stored.id)
    assert gone[tab.cast] == [] and gone[tab.confirm_box]["visible"] is False


def test_saving_without_a_cut_out_is_refused(tab, tmp_path):
    rgb = Image.new("RGB", (64, 48), (200, 210, 220))
    sel = tab.uploaded(_upload(tmp_path, rgb))[tab.selection]
    with pytest.raises(gr.Error, match="before saving"):
        tab.save(tab.project_id, None, "Nobody", "", "", sel)


def test_a_transparent_picture_is_shown_on_white(tab, tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[FIGURE] = (200, 40, 40, 255)  # transparent pixels are black underneath
    shown = tab.uploaded(_upload(tmp_path, Image.fromarray(rgba, "RGBA")))[tab.picture]
    assert shown.getpixel((5, 5)) == (255, 255, 255)


def test_with_a_sam_checkpoint_the_tab_uses_sam_and_waits_for_a_click(studio, tmp_path, monkeypatch):
    import torch

    from engine.sam_segmenter import build_tiny_sam

    torch.manual_seed(0)
    checkpoint = tmp_path / "tiny_sam.pth"
    torch.save(build_tiny_sam().state_dict(), checkpoint)
    monkeypatch.setenv("ANYSTORY_SAM_CACHE", str(tmp_path / "no-sam"))
    ctx = AppContext(studio, EngineConfig(engine="draft"),
                     SegmenterConfig(checkpoint=str(checkpoint), model_type="tiny"))
    with gr.Blocks():
        tab = CharactersTab(ctx, gr.State(None))
    assert tab.refresh(None)[tab.note].startswith("**Cut-outs:** Segment Anything")
    shown = tab.uploaded(_upload(tmp_path, _scene()))
    assert shown[tab.preview] is None and shown[tab.selection].mask is None
    clicked = tab.clicked(shown[tab.selection], MODES[0], _click(160, 130))[tab.selection]
    assert clicked.segmenter == "sam tiny" and clicked.mask.shape == (H, W)
