"""Region redo on the AnyStory engine.

The panel is denoised again from the request's noise with the same characters, boxes and
settings, and after every step the latents outside the region are replaced by the original
render's final latents x0 brought to that step's noise level with the same noise (flow
matching: x_t = (1 - sigma) x0 + sigma * noise). The last step ends at sigma = 0, so outside
the region the final latents are exactly the original's; inside, the model fills the region
in agreement with what surrounds it. Latents change in every 16 x 16 pixel cell the region
touches; the decoded picture is the original's pixel for pixel outside the painted region.

The original's latents come from the render itself (kept with it when it was made); a
render without them (made before they were kept) is re-encoded with the VAE (latent mean).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from diffusers import FluxPipeline

from engine.base import CancelFn, EngineError, PanelRequest, ProgressFn, RenderResult
from engine.anystory.pipeline import initial_latents
from engine.region import RegionRedo, merge_maps, paste_outside


def cell_size(pipe: FluxPipeline) -> int:
    """Pixels per side of one packed latent token."""
    return pipe.vae_scale_factor * 2


def region_tokens(mask: np.ndarray, cell: int) -> np.ndarray:
    """(rows, cols) bool: the latent cells that hold any pixel of the region."""
    rows, cols = mask.shape[0] // cell, mask.shape[1] // cell
    return mask[:rows * cell, :cols * cell].reshape(rows, cell, cols, cell).any(axis=(1, 3))


def reencode(pipe: FluxPipeline, image: Any, height: int, width: int) -> torch.Tensor:
    """A picture's packed latents through the VAE (latent mean), as the render would hold them."""
    vae = pipe.vae
    pixels = pipe.image_processor.preprocess(image.convert("RGB"), height=height, width=width)
    latent = vae.encode(pixels.to(device=vae.device, dtype=vae.dtype)).latent_dist.mean
    latent = (latent - vae.config.shift_factor) * vae.config.scaling_factor
    return FluxPipeline._pack_latents(latent, *latent.shape)


def original_latents(generator: Any, redo: RegionRedo, like: torch.Tensor) -> torch.Tensor:
    """The original render's final latents, shaped and placed like `like`."""
    if redo.latents is None:
        latents = reencode(generator.components.pipe, redo.image, redo.image.height, redo.image.width)
    else:
        latents = torch.from_numpy(np.asarray(redo.latents, np.float32))
    if tuple(latents.shape) != tuple(like.shape):
        raise EngineError(f"the original render's latents are {tuple(latents.shape)}, not {tuple(like.shape)}: "
                          "it was made by another engine configuration")
    return latents.to(device=like.device, dtype=like.dtype)


class OutsideBlend:
    """The per-step blend: latents inside the region as denoised, outside on the original's
    path at the step's noise level."""

    def __init__(self, original: torch.Tensor, noise: torch.Tensor, inside: torch.Tensor):
        self.original, self.noise, self.inside = original, noise, inside

    def __call__(self, step: int, sigma: float, latents: torch.Tensor) -> torch.Tensor:
        target = (1.0 - sigma) * self.original + sigma * self.noise
        return torch.where(self.inside, latents, target)


def render_region(generator: Any, request: PanelRequest, redo: RegionRedo,
                  progress: Optional[ProgressFn] = None, cancel: Optional[CancelFn] = None) -> RenderResult:
    """Render `request` again inside `redo.mask` only (see the module docstring)."""
    c = generator.components
    cell = cell_size(c.pipe)
    cells = region_tokens(redo.mask, cell)
    noise = initial_latents(c.pipe, request.height, request.width, request.seed, c.device, c.dtype)
    with torch.no_grad():
        original = original_latents(generator, redo, noise)
    inside = torch.from_numpy(cells.reshape(1, -1, 1)).to(c.device)
    result = generator.render(request, progress, cancel, blend=OutsideBlend(original, noise, inside))
    info = {**result.info, "region_tokens": int(cells.sum()), "original_latents": "kept" if redo.latents is not None
            else "re-encoded with the VAE"}
    return RenderResult(paste_outside(result.image, redo.image, redo.mask),
                        merge_maps(result.routing_maps, redo.routing_maps, redo.mask), info, latents=result.latents)
