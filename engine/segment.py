"""The Segmenter interface, prompt checks shared by its backends, and backend selection.

A segmenter cuts a character out of a picture from a writer's clicks (positive or negative
points) and/or a dragged box. Backends: `sam` (Meta's Segment Anything, engine/sam_segmenter.py,
imports torch), `matting` (an automatic matting model such as BiRefNet,
engine/matting_segmenter.py, imports torch) and `fallback` (no weights,
engine/fallback_segmenter.py). Which one runs is decided here from flags or `ANYSTORY_SAM_*`
and `ANYSTORY_MATTING` variables; this module never imports torch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol, Sequence, Union, runtime_checkable

import numpy as np
from PIL import Image

from engine.base import EngineError
from engine.overlay import overlaid
from engine.sam_checkpoint import cached_checkpoint

Point = tuple[float, float, bool]
"""A click (x, y, positive) in pixels of the picture, origin top-left; positive=False excludes."""

PixelBox = tuple[float, float, float, float]
"""A dragged box (x0, y0, x1, y1) in pixels of the picture."""

ImageLike = Union[Image.Image, np.ndarray]

SEGMENTERS = ("auto", "sam", "matting", "fallback")
SAM_MODEL_TYPES = ("vit_b", "vit_l", "vit_h", "tiny")
"""Meta's three published sizes, and `tiny` (random weights, for tests and benchmarks)."""


@runtime_checkable
class Segmenter(Protocol):
    """Cuts one subject out of a picture from clicks and/or a box."""

    name: str
    """Which segmenter made a mask, e.g. 'sam vit_b' or 'fallback (background estimate)'."""

    def segment(self, image: ImageLike, points: Sequence[Point] = (),
                box: Optional[PixelBox] = None) -> tuple[np.ndarray, float]:
        """Return (mask, score): mask is a bool H x W array of the picture's size, score the
        backend's confidence in [0, 1]."""


def to_pil(image: ImageLike) -> Image.Image:
    """Accept a PIL image or an H x W (x 3|4) uint8 array, as Gradio hands them over."""
    if isinstance(image, Image.Image):
        return image
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError("the picture must be an RGB/RGBA image (uint8 array or PIL image)")
    return Image.fromarray(array)


def flatten_on_white(image: Image.Image) -> Image.Image:
    """RGB; transparent parts are laid over white, as the app shows them."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def check_prompts(
    size: tuple[int, int], points: Sequence[Point], box: Optional[PixelBox]
) -> tuple[list[Point], Optional[PixelBox]]:
    """Refuse clicks outside the picture and empty boxes; clip a box to the picture.

    `size` is (width, height). Returns the points as (x, y, bool) and the clipped box.
    """
    width, height = size
    checked = []
    for point in points:
        if len(point) != 3:
            raise ValueError(f"a click is (x, y, positive), got {point!r}")
        x, y, positive = float(point[0]), float(point[1]), bool(point[2])
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(
                f"the click at ({x:g}, {y:g}) is outside the picture ({width} x {height} pixels)"
            )
        checked.append((x, y, positive))
    if box is None:
        return checked, None
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    clipped = (max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height)))
    if clipped[2] - clipped[0] < 1 or clipped[3] - clipped[1] < 1:
        raise ValueError(
            f"the box {tuple(box)} is under a pixel wide or high inside the picture "
            f"({width} x {height} pixels); drag a box around the character"
        )
    return checked, clipped


def search_window(size: tuple[int, int], box: Optional[PixelBox]) -> tuple[int, int, int, int]:
    """The pixel rectangle (x0, y0, x1, y1) a segmenter works in: the box rounded outwards,
    else the whole picture of `size` (width, height)."""
    if box is None:
        return 0, 0, size[0], size[1]
    return int(box[0]), int(box[1]), int(np.ceil(box[2])), int(np.ceil(box[3]))


@dataclass
class SegmenterConfig:
    """Which segmenter to run: 'auto' picks sam when a checkpoint is at hand, else matting
    when its model is on disk, else fallback.

    `checkpoint` is a local SAM checkpoint file; without one, sam uses Meta's published
    checkpoint for `model_type` from the cache, downloading it when `backend` is 'sam'.
    `matting` is a folder or Hugging Face repo id of a matting model (default BiRefNet).
    """

    backend: str = "auto"
    checkpoint: Optional[str] = None
    model_type: str = "vit_b"
    device: Optional[str] = None
    matting: Optional[str] = None

    @classmethod
    def from_env(cls, environ: Optional[dict[str, str]] = None) -> "SegmenterConfig":
        """Read ANYSTORY_SEGMENTER, ANYSTORY_SAM_CHECKPOINT, ANYSTORY_SAM_MODEL, ANYSTORY_DEVICE,
        ANYSTORY_MATTING."""
        env = os.environ if environ is None else environ
        return cls(
            backend=env.get("ANYSTORY_SEGMENTER", "auto"),
            checkpoint=env.get("ANYSTORY_SAM_CHECKPOINT") or None,
            model_type=env.get("ANYSTORY_SAM_MODEL", "vit_b"),
            device=env.get("ANYSTORY_DEVICE") or None,
            matting=env.get("ANYSTORY_MATTING") or None,
        )


def sam_checkpoint_available(config: SegmenterConfig) -> Optional[Path]:
    """The SAM checkpoint this config would load, if it is on disk now (never downloads)."""
    if config.checkpoint:
        path = Path(config.checkpoint).expanduser()
        return path if path.is_file() else None
    return cached_checkpoint(config.model_type)


MATTING_REPO = "ZhengPeng7/BiRefNet"
"""The matting model the published AnyStory storyboard uses."""


def matting_available(config: SegmenterConfig) -> Optional[str]:
    """The matting model this config would load, if its files are on disk now (a folder, or
    the repo in huggingface_hub's cache); never downloads."""
    source = config.matting or MATTING_REPO
    folder = Path(source).expanduser()
    if folder.is_dir():
        return str(folder) if (folder / "config.json").is_file() else None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(source, "config.json")
    return source if isinstance(cached, str) else None


def resolve_segmenter(config: SegmenterConfig) -> tuple[str, str]:
    """Return (backend, reason) for this config, without importing torch."""
    if config.backend not in SEGMENTERS:
        raise EngineError(
            f"unknown segmenter {config.backend!r}; choose one of {', '.join(SEGMENTERS)}"
        )
    if config.model_type not in SAM_MODEL_TYPES:
        raise EngineError(
            f"unknown SAM model {config.model_type!r}; choose one of {', '.join(SAM_MODEL_TYPES)}"
        )
    if config.checkpoint and sam_checkpoint_available(config) is None:
        raise EngineError(f"the SAM checkpoint {config.checkpoint} does not exist")
    if config.backend != "auto":
        return config.backend, f"{config.backend}: chosen by configuration"
    found = sam_checkpoint_available(config)
    if found is not None:
        return "sam", f"sam {config.model_type}: checkpoint {found}"
    matting = matting_available(config)
    if matting is not None:
        return "matting", f"matting: model {matting}"
    return "fallback", (
        "fallback: no SAM checkpoint or matting model found (give --sam-checkpoint PATH, or "
        "choose the sam segmenter to download Meta's checkpoint)"
    )


def create_segmenter(
    checkpoint: Optional[str] = None,
    model_type: Optional[str] = None,
    backend: Optional[str] = None,
    device: Optional[str] = None,
) -> Segmenter:
    """Build the segmenter for these settings (flags); each one left None comes from the
    environment (see `SegmenterConfig.from_env`), else its default (auto, vit_b)."""
    config = overlaid(SegmenterConfig.from_env(), backend=backend or None, checkpoint=checkpoint or None,
                      model_type=model_type or None, device=device or None)
    return create_segmenter_from_config(config)


def create_segmenter_from_config(config: SegmenterConfig) -> Segmenter:
    """Build the backend `resolve_segmenter` picks (torch is imported only for sam)."""
    name, _ = resolve_segmenter(config)
    if name == "fallback":
        from engine.fallback_segmenter import FallbackSegmenter

        return FallbackSegmenter()
    if name == "matting":
        from engine.matting_segmenter import MattingSegmenter

        return MattingSegmenter.load(matting_available(config) or config.matting or MATTING_REPO,
                                     device=config.device)
    from engine.sam_checkpoint import ensure_checkpoint
    from engine.sam_segmenter import SamSegmenter

    path = sam_checkpoint_available(config) or ensure_checkpoint(config.model_type)
    return SamSegmenter.from_checkpoint(path, config.model_type, device=config.device)
