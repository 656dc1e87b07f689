"""Pictures the UI draws for the writer: the selection over a character picture, the
character boxes over a panel, where each character went in a render. Presentation only;
nothing here is stored."""
from __future__ import annotations

import html
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

TINT = (255, 120, 40)
POSITIVE, NEGATIVE, BOX = (40, 180, 90), (220, 50, 60), (40, 120, 230)
BOX_COLOURS = [(40, 120, 230), (230, 120, 30), (150, 70, 200), (30, 160, 140), (200, 60, 110)]


def _dot(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, colour: tuple[int, int, int], sign: str) -> None:
    draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline="white", width=max(2, int(r / 4)))
    arm = r * 0.5
    draw.line((x - arm, y, x + arm, y), fill="white", width=max(2, int(r / 4)))
    if sign == "+":
        draw.line((x, y - arm, x, y + arm), fill="white", width=max(2, int(r / 4)))


def selection_overlay(
    image: Image.Image, mask: Optional[np.ndarray], points: Sequence[Sequence[float]] = (),
    box: Optional[Sequence[float]] = None, corner: Optional[Sequence[float]] = None,
) -> Image.Image:
    """The picture with the selected region tinted and outlined, the clicks as +/- dots and
    the box (or its first corner while the writer picks the second)."""
    base = image.convert("RGB")
    if mask is not None:
        region = Image.fromarray((np.asarray(mask, bool) * 255).astype(np.uint8))
        tint = Image.new("RGB", base.size, TINT)
        base = Image.composite(Image.blend(base, tint, 0.35), base, region)
        edge = region.filter(ImageFilter.FIND_EDGES).filter(ImageFilter.MaxFilter(3))
        base.paste(TINT, (0, 0), edge)
    draw = ImageDraw.Draw(base)
    radius = max(6.0, min(base.size) / 60)
    if box is not None:
        draw.rectangle(tuple(box), outline=BOX, width=max(2, int(radius / 3)))
    if corner is not None:
        _dot(draw, corner[0], corner[1], radius * 0.7, BOX, "")
    for x, y, positive in points:
        _dot(draw, x, y, radius, POSITIVE if positive else NEGATIVE, "+" if positive else "-")
    return base


def panel_canvas(width: int, height: int, longest: int = 640) -> Image.Image:
    """A blank panel of the right aspect, for placing boxes before the first render."""
    scale = longest / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = Image.new("RGB", size, (246, 243, 236))
    draw = ImageDraw.Draw(canvas)
    step = max(16, longest // 16)
    for x in range(0, size[0], step):
        draw.line((x, 0, x, size[1]), fill=(234, 229, 218))
    for y in range(0, size[1], step):
        draw.line((0, y, size[0], y), fill=(234, 229, 218))
    return canvas


def boxes_overlay(
    panel: Image.Image, boxes: Sequence[tuple[str, Optional[Sequence[float]]]],
    corner: Optional[Sequence[float]] = None,
) -> Image.Image:
    """A panel picture with each character's normalised box drawn and labelled."""
    base = panel.convert("RGB")
    draw = ImageDraw.Draw(base)
    width = max(2, min(base.size) // 160)
    for index, (name, box) in enumerate(boxes):
        if box is None:
            continue
        colour = BOX_COLOURS[index % len(BOX_COLOURS)]
        x0, y0, x1, y1 = box[0] * base.width, box[1] * base.height, box[2] * base.width, box[3] * base.height
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
        label_box = draw.textbbox((x0 + 4, y0 + 4), name)
        draw.rectangle((label_box[0] - 3, label_box[1] - 2, label_box[2] + 3, label_box[3] + 2), fill=colour)
        draw.text((x0 + 4, y0 + 4), name, fill="white")
    if corner is not None:
        r = max(5, min(base.size) // 70)
        draw.ellipse((corner[0] - r, corner[1] - r, corner[0] + r, corner[1] + r), fill=BOX, outline="white")
    return base


def routing_overlay(
    image: Image.Image, maps: Sequence[np.ndarray], colours: Sequence[tuple[int, int, int]],
    strength: float = 0.7,
) -> Image.Image:
    """The picture in grey with each character's routing map painted in its colour.

    `maps[i]` (H x W, 0..1) weighs `colours[i]`; maps of another size are resized to the
    picture's. Where no character went the picture stays grey, so colour means "a character
    was routed here" and overlapping maps mix their colours."""
    if len(colours) < len(maps):
        raise ValueError(f"{len(maps)} routing maps need as many colours, got {len(colours)}")
    grey = np.asarray(image.convert("L").convert("RGB"), np.float32)
    if not maps:
        return Image.fromarray(grey.astype(np.uint8))
    size = image.size
    weights = np.stack([_fit(np.asarray(m, np.float32), size) for m in maps])
    total = weights.sum(axis=0)
    mix = np.einsum("khw,kc->hwc", weights, np.asarray(colours[: len(maps)], np.float32))
    mix /= np.maximum(total, 1e-6)[..., None]
    alpha = (strength * np.clip(total, 0.0, 1.0))[..., None]
    return Image.fromarray(np.rint(grey * (1 - alpha) + mix * alpha).astype(np.uint8))


def _fit(grid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map clipped to 0..1 at `size` (W, H), resized bilinearly when it is not."""
    grid = np.clip(grid, 0.0, 1.0)
    if grid.shape != (size[1], size[0]):
        grid = np.asarray(Image.fromarray(grid, "F").resize(size, Image.Resampling.BILINEAR))
    return grid


def legend_html(entries: Sequence[tuple[str, tuple[int, int, int], str]]) -> str:
    """A legend for the overlay: one colour swatch per (name, colour, note) line."""
    lines = [
        f'<li><span class="swatch" style="background: rgb{colour}"></span> <b>{html.escape(name)}</b>'
        + (f" · {html.escape(note)}" if note else "") + "</li>"
        for name, colour, note in entries
    ]
    return '<ul class="routing-legend">' + "".join(lines) + "</ul>"
