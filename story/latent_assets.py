"""A render's final latents kept in the asset store (for redoing one of its regions).

The store holds PNGs only (gc, bundles and their checks rely on it), so the latents are
written losslessly as one: the float32 values of a (1, tokens, channels) array as
little-endian bytes, one greyscale row per token (4 bytes per channel). float32 holds the
bfloat16 and float16 latents of a GPU render exactly. A 1024 x 1024 FLUX panel's latents
(4096 tokens x 64 channels) are 1 MiB before PNG compression.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from story.errors import InvalidInput
from story.studio import Studio

LATENTS_PNG_LEVEL = 1
"""Random-looking float bytes barely compress: spend no time trying."""


def latents_image(latents: np.ndarray) -> Image.Image:
    """(1, tokens, channels) latents as a lossless greyscale image."""
    values = np.ascontiguousarray(np.asarray(latents, dtype="<f4"))
    if values.ndim != 3 or values.shape[0] != 1:
        raise ValueError(f"latents must be (1, tokens, channels), not {values.shape}")
    rows = values.reshape(values.shape[1], values.shape[2]).view(np.uint8)
    return Image.fromarray(rows, "L")


def image_latents(image: Image.Image) -> np.ndarray:
    """The (1, tokens, channels) float32 latents stored in `image`."""
    if image.mode != "L" or image.width % 4:
        raise InvalidInput("The stored latents of this render are damaged (not a latents image).")
    rows = np.ascontiguousarray(np.asarray(image, np.uint8))
    return rows.view("<f4").astype(np.float32)[None]


def put_latents(studio: Studio, latents: np.ndarray) -> str:
    """Store latents; return their asset hash."""
    return studio.assets.put_image(latents_image(latents), LATENTS_PNG_LEVEL)


def load_latents(studio: Studio, digest: str) -> np.ndarray:
    """The latents stored under `digest`."""
    return image_latents(studio.assets.open(digest))
