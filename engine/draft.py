"""The draft backend: a fast, deterministic CPU renderer used where no GPU model is loaded.

It pastes each character's cut-out (kept by `encode_subject`) into the panel, inside its box
or in an automatic row, over a landscape generated from the prompt and seed. A dark band at
the bottom carries a red "DRAFT" badge and the prompt; `art_box` says where the picture
without that band is, so a comic export shows the art alone. Same request, same PNG bytes.
`steps` and `guidance` mean nothing here and are ignored; `params` must be empty.
"""
from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from engine.base import (CancelFn, EngineError, PanelRequest, ProgressFn, RenderResult,
                         SubjectEncoding, check_cancel)
from engine.box import Box
from engine.draft_background import render_background
from engine.draft_layout import Rect, place
from engine.draft_text import band_height, draw_band, layout_band

DRAFT_VERSION = "2"
"""Bump whenever the encoding or the picture changes, so cached encodings are redone."""
MIN_SIDE, MAX_SIDE, MAX_ASPECT = 64, 4096, 4.0
MAX_CUTOUT_SIDE = 1024
"""Cut-outs are stored at most this large: enough for any panel, cheap to scale per render."""
BAND_SINCE = 2
"""Drafts from this version on keep all their text in the bottom band."""


def art_box(fingerprint: str, width: int, height: int) -> Optional[tuple[int, int, int, int]]:
    """The picture of a draft render without its badge and prompt band, as pixels
    (x0, y0, x1, y1); None when `fingerprint` is not a draft with a band."""
    prefix = "draft-v"
    if not fingerprint.startswith(prefix) or not fingerprint[len(prefix):].isdigit():
        return None
    if int(fingerprint[len(prefix):]) < BAND_SINCE:
        return None
    return 0, 0, width, height - band_height(width, height)


def _resize_rgba(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize with premultiplied alpha so the white background never fringes the edges."""
    resized = image.convert("RGBa").resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    return resized.convert("RGBA")


def _validate_size(width: object, height: object) -> tuple[int, int]:
    """The panel size as ints, or EngineError for sizes the draft cannot sensibly draw."""
    for label, side in (("width", width), ("height", height)):
        if (not isinstance(side, numbers.Integral) or isinstance(side, bool)
                or not MIN_SIDE <= side <= MAX_SIDE):
            raise EngineError(f"panel {label} must be a whole number of pixels from {MIN_SIDE} "
                              f"to {MAX_SIDE}, got {side!r}")
    width, height = int(width), int(height)  # type: ignore[call-overload]
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise EngineError(f"panel aspect ratio {width}x{height} is too extreme; "
                          f"the longer side may be at most {MAX_ASPECT:g} times the shorter")
    return width, height


def _validate_box(name: str, box: object) -> None:
    """EngineError unless `box` is a normalised (x0, y0, x1, y1) with positive area."""
    try:
        Box.of(box)
    except ValueError as exc:
        raise EngineError(f"box of {name!r}: {exc} (fractions of the panel)") from None


def _draw_shadow(image: Image.Image, rect: Rect) -> None:
    """A soft dark ellipse under a character's feet so it stands on the ground."""
    x0, _, x1, y1 = rect
    w = max(4, round((x1 - x0) * 0.8))
    h = max(2, w // 6)
    blur = max(1, h // 3)
    mask = Image.new("L", (w + 4 * blur, h + 4 * blur), 0)
    ImageDraw.Draw(mask).ellipse((2 * blur, 2 * blur, 2 * blur + w, 2 * blur + h), fill=90)
    mask = mask.filter(ImageFilter.BoxBlur(blur))
    left = (x0 + x1 - mask.width) // 2
    image.paste((0, 0, 0), (left, y1 - mask.height // 2), mask)


class DraftGenerator:
    """The default backend: lays out character cut-outs; no model, no GPU, no randomness
    beyond the request's seed."""

    name = "draft"
    samples = False
    """No sampler: a request's `steps` and `guidance` mean nothing here (engine.registry.describe_engine)."""

    @property
    def fingerprint(self) -> str:
        """Backend identity plus the draft algorithm version (part of every cache key)."""
        return f"draft-v{DRAFT_VERSION}"

    def describe(self) -> str:
        """One line for the status page."""
        return "draft: CPU preview renderer (no GPU model loaded)"

    @staticmethod
    def parameters() -> list[dict[str, Any]]:
        """The draft has no advanced settings (a request's `params` must be empty)."""
        return []

    def encode_subject(self, image: Image.Image, mask: Image.Image) -> SubjectEncoding:
        """Keep the RGBA cut-out of the subject (mask as alpha), cropped to the mask."""
        if image.size != mask.size:
            raise EngineError(f"subject picture {image.size} and mask {mask.size} differ in size")
        alpha = mask.convert("L")
        bbox = alpha.getbbox()
        if bbox is None:
            raise EngineError("the character's mask is empty: select the character in its picture")
        cutout = image.convert("RGB").crop(bbox)
        cutout.putalpha(alpha.crop(bbox))
        scale = MAX_CUTOUT_SIDE / max(cutout.size)
        if scale < 1.0:
            cutout = _resize_rgba(cutout, (max(1, round(cutout.width * scale)),
                                           max(1, round(cutout.height * scale))))
        return SubjectEncoding(
            fingerprint=self.fingerprint,
            tensors={"rgba": np.asarray(cutout, dtype=np.uint8).copy()},
            meta={"bbox": ",".join(map(str, bbox)), "source_size": f"{image.width}x{image.height}"},
        )

    def _cutouts(self, request: PanelRequest) -> list[Image.Image]:
        """Check the request and return the subjects' cut-outs as RGBA images."""
        if request.params:
            raise EngineError("the draft engine has no advanced parameters; remove "
                              + ", ".join(sorted(map(str, request.params))))
        if not request.prompt.strip() and not request.subjects:
            raise EngineError("nothing to draw: the panel has no prompt and no characters")
        cutouts = []
        for s in request.subjects:
            rgba = s.encoding.tensors.get("rgba")
            if s.encoding.fingerprint != self.fingerprint or rgba is None:
                raise EngineError(f"character {s.name!r} was encoded by {s.encoding.fingerprint!r}, "
                                  f"not {self.fingerprint!r}: encode it again")
            if s.box is not None:
                _validate_box(s.name, s.box)
            if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
                raise EngineError(f"character {s.name!r} has a damaged draft encoding "
                                  f"({rgba.dtype} {rgba.shape}): encode it again")
            cutouts.append(Image.fromarray(rgba, "RGBA"))
        return cutouts

    def render(self, request: PanelRequest, progress: Optional[ProgressFn] = None,
               cancel: Optional[CancelFn] = None) -> RenderResult:
        """Render the panel in stages (background, layout, one per character, text)."""
        w, h = _validate_size(request.width, request.height)
        cutouts = self._cutouts(request)
        total, step = 3 + len(cutouts), 0

        def advance() -> None:
            nonlocal step
            step += 1
            if progress is not None:
                progress(step, total)

        check_cancel(cancel)
        image, palette = render_background(request.prompt, request.seed, w, h)
        advance()

        check_cancel(cancel)
        band = layout_band(request.prompt, w, h)
        floor = h - band.height - round(0.025 * h)
        rects = place([c.size for c in cutouts], [s.box for s in request.subjects], w, h,
                      floor, request.seed)
        advance()

        maps = [np.zeros((h, w), np.float32) for _ in cutouts] if request.return_routing_maps else None
        for i, (cutout, rect) in enumerate(zip(cutouts, rects)):
            check_cancel(cancel)
            self._paste(image, cutout, rect, i, maps)
            advance()

        check_cancel(cancel)
        draw_band(image, band)
        advance()
        info = {"engine": self.name, "fingerprint": self.fingerprint, "palette": palette,
                "placements": [list(r) for r in rects]}
        return RenderResult(image=image, routing_maps=maps, info=info)

    @staticmethod
    def _paste(image: Image.Image, cutout: Image.Image, rect: Rect, index: int,
               maps: Optional[list[np.ndarray]]) -> None:
        """Paste subject `index` into `rect`; its map takes its alpha, and the subjects
        under it lose what it covers (each map says where that character is visible)."""
        x0, y0, x1, y1 = rect
        sized = _resize_rgba(cutout, (x1 - x0, y1 - y0))
        _draw_shadow(image, rect)
        image.paste(sized, (x0, y0), sized)
        if maps is None:
            return
        alpha = np.asarray(sized.getchannel("A"), np.float32) / 255.0
        for earlier in maps[:index]:
            earlier[y0:y1, x0:x1] *= 1.0 - alpha
        maps[index][y0:y1, x0:x1] = alpha
