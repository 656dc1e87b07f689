"""Exported pages as a reader sees them: rendered by pdftoppm, pages are full and balloons
leave the characters (known from routing maps or boxes) visible; lettering rules (narration, tails, line breaks, crowding);
drafts export without their badge band and are labelled DRAFT on the page."""
import os
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from story.export import Balloon, ComicPanel, PageSettings, export_pdf
from story.export.compose import ImageOp, compose
from story.export.layout import Rect, content_rect
from story.export.lettering import CAPTION_FILL, letter_panel
from story.export.pdf import write_scenes
from story.export.regions import Cast, character_grids
from export_helpers import FIGURES, draft_image, sample_story

MIN_FILL = 0.85          # every page but the last: at least this share of the area inside the margins is art
MAX_COVER = 0.20         # lettering hides at most this share of a character (the export warns from 15 %; tails cross)
DPI = 50
LONG = ("We have walked since dawn and the storm is closing in behind the hills, so tell me now, "
        "before the rain finds us, where you hid the map of the old lighthouse.")   # 157 characters
SHAPES = [(768, 768), (1024, 576), (576, 768), (768, 768), (1280, 720), (768, 768), (576, 768), (1024, 576), (768, 768)] * 2


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    document = sample_story(folder, count=len(SHAPES))
    panels = []
    for panel, size in zip(document.panels, SHAPES):
        lines = (Balloon("Anna", LONG if panel.index % 3 == 0 else "Breakfast! Then we go."),
                 Balloon("", "Far away, the lighthouse went dark."), Balloon("Boris", "Wait for me!", "shout"))
        panel = replace(panel, image_path=draft_image(folder / f"shape-{panel.index}.png", panel.index, size),
                        balloons=lines)
        if panel.index % 2 == 0:   # half the panels know their characters from routing maps alone
            panel = replace(panel, character_boxes={}, character_maps=_maps(size))
        panels.append(panel)
    return replace(document, panels=tuple(panels))


def _maps(size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Routing maps as a render keeps them: one image-sized grid per character, 1 where it is."""
    maps = {}
    for name, (x0, y0, x1, y1) in FIGURES.items():
        grid = np.zeros((size[1], size[0]), np.float32)
        grid[round(y0 * size[1]):round(y1 * size[1]), round(x0 * size[0]):round(x1 * size[0])] = 1.0
        maps[name] = grid
    return maps


def _pdftoppm(pdf, prefix) -> list[np.ndarray]:
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", str(pdf), str(prefix)], check=True)
    paths = sorted(prefix.parent.glob(prefix.name + "-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [np.asarray(Image.open(p), float) for p in paths]


def _pixels(rect: Rect) -> tuple[slice, slice]:
    s = DPI / 72
    return slice(round(rect.y * s), round(rect.bottom * s)), slice(round(rect.x * s), round(rect.right * s))


def _characters(scene, story) -> list[tuple[int, Rect]]:
    """(panel number, page rectangle) of the figures drawn in each panel image (FIGURES, cropped as placed)."""
    numbers = {panel.image_path: panel.index for panel in story.panels}
    rects = []
    for op in scene.ops:
        if not isinstance(op, ImageOp):
            continue
        with Image.open(op.path) as image:
            width, height = image.size
        sx, sy = op.dest.w / (op.crop[2] - op.crop[0]), op.dest.h / (op.crop[3] - op.crop[1])
        for x0, y0, x1, y1 in FIGURES.values():
            left, top = op.dest.x + (x0 * width - op.crop[0]) * sx, op.dest.y + (y0 * height - op.crop[1]) * sy
            rects.append((numbers[op.path], Rect(left, top, (x1 - x0) * width * sx, (y1 - y0) * height * sy)))
    return rects


@pytest.mark.skipif(shutil.which("pdftoppm") is None and not os.environ.get("CI"),
                    reason="pdftoppm (poppler-utils) is not installed; CI installs it and fails instead of skipping")
@pytest.mark.parametrize("page_size", ["a4", "us-comic"])
def test_pages_are_full_and_lettering_leaves_characters_visible(story, tmp_path, page_size):
    settings = PageSettings(page_size=page_size, title_page=False)
    report = export_pdf(story, settings, tmp_path / "lettered.pdf")
    lettered = _pdftoppm(report.path, tmp_path / "l")
    crowded = {int(w.split()[1]) for w in report.warnings if "too crowded" in w}
    scenes, _ = compose(story, settings)
    for scene in scenes:   # the same pages with only the pictures: what the lettering changed shows
        scene.ops = [op for op in scene.ops if isinstance(op, ImageOp)]
    write_scenes(scenes, story, settings, tmp_path / "bare.pdf")
    plain = _pdftoppm(tmp_path / "bare.pdf", tmp_path / "b")
    area = _pixels(content_rect(settings))
    fills = [float((page[area] < 245).mean()) for page in plain]
    print(f"{page_size}: page fill {[round(f, 3) for f in fills]}")
    assert len(plain) >= 2 and all(fill >= MIN_FILL for fill in fills[:-1]), fills
    worst = 0.0
    for page, (with_text, without) in enumerate(zip(lettered, plain)):
        for number, rect in _characters(scenes[page], story):
            region = _pixels(rect)
            changed = np.abs(with_text[region] - without[region]) > 40
            assert changed.size > 0
            if number not in crowded:   # the export names the panels it could not letter clear of characters
                worst = max(worst, float(changed.mean()))
                assert changed.mean() <= MAX_COVER, f"panel {number}: lettering covers {changed.mean():.0%} of a character"
    print(f"{page_size}: the most of one character covered by lettering: {worst:.1%}; "
          f"{len(crowded)} of {len(story.panels)} panels reported too crowded")
    assert len(crowded) <= len(story.panels) // 3


def test_cropping_never_cuts_a_character(story):
    scenes, _ = compose(story, PageSettings(page_size="a4", title_page=False, placement="fill"))
    for scene in scenes:
        for op in (op for op in scene.ops if isinstance(op, ImageOp)):
            with Image.open(op.path) as image:
                width, height = image.size
            for x0, y0, x1, y1 in FIGURES.values():
                assert op.crop[0] <= x0 * width + 0.5 and x1 * width - 0.5 <= op.crop[2]
                assert op.crop[1] <= y0 * height + 0.5 and y1 * height - 0.5 <= op.crop[3]


def test_a_long_line_fits_a_half_page_panel_at_8_pt_or_more_without_breaking_words():
    half_page = Rect(36, 36, 523, 380)
    panel = ComicPanel(index=3, balloons=[Balloon("Anna", LONG + " Breakfast!")])
    lettering = letter_panel(panel, half_page, Cast({}, half_page), PageSettings())
    assert lettering.warnings == []
    assert min(line.size for line in lettering.lines) >= 8
    words = [w for line in lettering.lines for w in line.text.split()]
    assert words == (LONG + " Breakfast!").split(), "no word is broken across lines"


def test_an_overfull_panel_is_named_as_too_crowded():
    small = Rect(0, 0, 200, 150)
    panel = ComicPanel(index=4, balloons=[Balloon("Anna", LONG), Balloon("Boris", LONG), Balloon("Anna", LONG)])
    warnings = letter_panel(panel, small, Cast({}, small), PageSettings()).warnings
    assert warnings and all(w.startswith("Panel 4 is too crowded") for w in warnings)


def test_narration_is_a_caption_box_without_a_tail():
    rect = Rect(0, 0, 300, 260)
    lettering = letter_panel(ComicPanel(index=1, balloons=[Balloon("", "Meanwhile, far away.")]), rect,
                             Cast({}, rect), PageSettings())
    assert len(lettering.shapes) == 1 and lettering.shapes[0].fill == CAPTION_FILL
    assert len(lettering.shapes[0].points) == 4


def test_tail_reaches_the_speaker_found_by_the_routing_map_alone():
    rect = Rect(0, 0, 400, 300)
    grid = np.zeros((60, 80), np.float32)
    grid[30:60, 55:75] = 1.0                      # Boris stands at the right, head near y = 0.5
    panel = ComicPanel(index=1, balloons=[Balloon("Boris", "Over here!")], character_maps={"Boris": grid})
    lettering = letter_panel(panel, rect, Cast(character_grids(panel), rect), PageSettings())
    outline = lettering.shapes[-1].points
    tip = outline[-1]                             # the outline ends at the tail's tip
    assert tip[0] > 0.6 * rect.w and tip[1] > 0.35 * rect.h


def test_draft_renders_export_without_their_band_and_pages_say_draft(tmp_path):
    from engine.base import PanelRequest
    from engine.draft import DraftGenerator, art_box
    import pypdf

    generator = DraftGenerator()
    image = generator.render(PanelRequest("a quiet harbour at dawn", seed=3, width=512, height=512)).image
    image.save(tmp_path / "draft.png")
    x0, y0, x1, y1 = art_box(generator.fingerprint, 512, 512)
    panel = ComicPanel(index=1, image_path=tmp_path / "draft.png", art_box=(x0 / 512, y0 / 512, x1 / 512, y1 / 512),
                       draft=True, balloons=[Balloon("Anna", "Hello!")])
    settings = PageSettings(title_page=False)
    scenes, _ = compose(replace(sample_story(tmp_path, 1), panels=(panel,)), settings)
    (op,) = [op for op in scenes[0].ops if isinstance(op, ImageOp)]
    assert op.crop[3] <= y1, "the badge and prompt band are left out of the page"
    report = export_pdf(replace(sample_story(tmp_path, 1), panels=(panel,)), settings, tmp_path / "d.pdf")
    text = pypdf.PdfReader(report.path).pages[0].extract_text()
    assert "DRAFT" in text and "quiet harbour" not in text


def test_the_draft_mark_stays_whole_without_a_margin(tmp_path):
    import pypdf

    panel = ComicPanel(index=1, image_path=draft_image(tmp_path / "d.png", 1), draft=True)
    story = replace(sample_story(tmp_path, 1), panels=(panel,))
    for margin in (0.0, 36.0):
        settings = PageSettings(title_page=False, margin=margin)
        (scene,), _ = compose(story, settings)
        (line,) = [op for op in scene.ops if getattr(op, "text", "") == "DRAFT"]
        assert 0 < line.runs[0].x and line.baseline < scene.height, "the mark lies on the page, not cut"
        text = pypdf.PdfReader(export_pdf(story, settings, tmp_path / f"m{margin}.pdf").path).pages[0].extract_text()
        assert "DRAFT" in text
