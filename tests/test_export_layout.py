"""Page layout: templates stay inside margins without overlap, RTL mirrors, hints are honoured."""
from itertools import combinations

import pytest

from story.export import ComicDocument, ComicPanel, PageSettings
from story.export.document import LAYOUTS
from story.export.layout import content_rect, layout_document, page_size_points, panel_shape, place_image, Rect


def _panels(count, hints=None):
    hints = hints or {}
    return ComicDocument("T", panels=[ComicPanel(index=i, hint=hints.get(i)) for i in range(1, count + 1)])


def _overlap(a: Rect, b: Rect) -> bool:
    return a.x < b.right - 1e-6 and b.x < a.right - 1e-6 and a.y < b.bottom - 1e-6 and b.y < a.bottom - 1e-6


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("page_size", ["a4", "us-comic"])
def test_every_template_places_all_panels_inside_margins_without_overlap(layout, page_size):
    settings = PageSettings(page_size=page_size, layout=layout, margin=30, gutter=10)
    document = _panels(11, {5: "wide", 7: "tall"})
    shapes = {p.index: panel_shape(p, (1600, 700) if p.index % 4 == 0 else (768, 768), None, "fill")
              for p in document.panels}
    pages = layout_document(document, settings, shapes)
    box = content_rect(settings)
    seen = [frame.panel.index for page in pages for frame in page.frames]
    assert seen == list(range(1, 12))
    for page in pages:
        for frame in page.frames:
            r = frame.rect
            assert r.w > 20 and r.h > 20
            assert box.x - 1e-6 <= r.x and r.right <= box.right + 1e-6
            assert box.y - 1e-6 <= r.y and r.bottom <= box.bottom + 1e-6
        for a, b in combinations(page.frames, 2):
            assert not _overlap(a.rect, b.rect), (layout, a.panel.index, b.panel.index)
            assert not (abs(a.rect.right - b.rect.x) < 9.99 and a.rect.y == b.rect.y), "gutter missing"


def test_grid_templates_hold_their_panel_counts():
    counts = {"single": 1, "2-rows": 2, "3-rows": 3, "2x2": 4, "2x3": 6}
    for layout, per_page in counts.items():
        pages = layout_document(_panels(13), PageSettings(layout=layout), {})
        assert [len(p.frames) for p in pages][:-1] == [per_page] * (len(pages) - 1)
        assert sum(len(p.frames) for p in pages) == 13


def test_rtl_mirrors_panel_order_on_the_page():
    ltr = layout_document(_panels(4), PageSettings(layout="2x2"), {})[0].frames
    rtl = layout_document(_panels(4), PageSettings(layout="2x2", reading_direction="rtl"), {})[0].frames
    assert ltr[0].rect.x < ltr[1].rect.x          # panel 1 left of panel 2
    assert rtl[0].rect.x > rtl[1].rect.x          # panel 1 right of panel 2
    width = page_size_points("a4")[0]
    for a, b in zip(ltr, rtl):
        assert a.rect.y == b.rect.y and b.rect.x == pytest.approx(width - a.rect.right)


def test_auto_gives_wide_panels_a_full_row_and_tall_panels_a_narrow_frame():
    settings = PageSettings(layout="auto")
    document = _panels(6, {3: "wide", 5: "tall"})
    pages = layout_document(document, settings, {p.index: panel_shape(p, (768, 768), None, "fit")
                                                 for p in document.panels})
    frames = {f.panel.index: f.rect for p in pages for f in p.frames}
    assert frames[3].w == pytest.approx(content_rect(settings).w)
    assert frames[5].w < frames[5].h
    assert frames[5].w < frames[6].w


def test_splash_first_opens_with_one_full_page_panel():
    settings = PageSettings(layout="splash-first")
    pages = layout_document(_panels(5), settings, {})
    box = content_rect(settings)
    assert len(pages[0].frames) == 1 and pages[0].frames[0].rect == box


def test_page_sizes_and_bad_input():
    assert page_size_points("letter") == (612, 792)
    assert page_size_points("us-comic") == pytest.approx((477, 738))
    assert page_size_points("6x9in") == (432, 648)
    assert page_size_points("210x297mm") == pytest.approx(page_size_points("a4"))
    with pytest.raises(ValueError, match="page size"):
        page_size_points("huge")
    with pytest.raises(ValueError, match="layout"):
        PageSettings(layout="4x4")
    with pytest.raises(ValueError, match="no panels"):
        layout_document(ComicDocument("Empty"), PageSettings(), {})


def test_fill_crops_to_the_frame_and_fit_keeps_the_whole_image():
    frame = Rect(10, 10, 200, 100)
    crop, dest = place_image((800, 800), frame, "fill")
    assert dest == frame and crop == (0, 200, 800, 600)
    crop, dest = place_image((800, 800), frame, "fit")
    assert crop == (0, 0, 800, 800) and dest == Rect(60, 10, 100, 100)


@pytest.mark.parametrize("placement", ["fill", "fit"])
def test_auto_rows_span_the_page_and_fit_keeps_every_picture_shape(placement):
    settings = PageSettings(layout="auto", placement=placement)
    document = _panels(12)
    sizes = {p.index: [(768, 768), (1024, 576), (576, 768)][p.index % 3] for p in document.panels}
    shapes = {p.index: panel_shape(p, sizes[p.index], (0.2, 0.3, 0.8, 0.95), placement) for p in document.panels}
    pages = layout_document(document, settings, shapes)
    box = content_rect(settings)
    for page in pages:
        rows: dict[float, list] = {}
        for frame in page.frames:
            rows.setdefault(round(frame.rect.y, 3), []).append(frame.rect)
        for row in rows.values():   # every row is centred and as wide as the others on its page
            left, right = min(r.x for r in row), max(r.right for r in row)
            assert left - box.x == pytest.approx(box.right - right, abs=0.01)
        if placement == "fit":
            for frame in page.frames:
                w, h = sizes[frame.panel.index]
                assert frame.rect.w / frame.rect.h == pytest.approx(w / h, rel=1e-6)
        else:   # trimming never goes inside the characters' box (x 0.2-0.8, y 0.3-0.95)
            for frame in page.frames:
                w, h = sizes[frame.panel.index]
                ratio = (frame.rect.w / frame.rect.h) / (w / h)
                assert 0.6 - 1e-9 <= ratio <= 1 / 0.65 + 1e-9
    heights = [max(f.rect.bottom for f in page.frames) - box.y for page in pages]
    assert all(h >= box.h * 0.97 for h in heights[:-1]) or placement == "fit"
