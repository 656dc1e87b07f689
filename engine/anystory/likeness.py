"""The AnyStory engine's likeness embedder: the SigLIP image encoder it already loads for
Redux (no new weights). A picture is prepared as the subject encoder prepares a character
(SigLIP's 384 px preprocessing, pixels outside the mask zeroed after normalising), framed
tightly around its mask like every compared picture (engine.likeness.tight), and
embedded as SigLIP's pooled output (its attention-pooling head), or the mean of its last
hidden states when the loaded encoder has no head.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine.likeness import Embedder, Picture, tight

MATCH = 0.5
"""Cosine at which a region counts as showing a character (not calibrated on real weights)."""


def _pixels(processor: Any, pictures: Sequence[Picture]) -> torch.Tensor:
    """A batch of masked SigLIP inputs."""
    framed = [tight(picture) for picture in pictures]
    images = [image for image, _ in framed]
    masks = [mask.convert("RGB") for _, mask in framed]
    pixels = processor.preprocess(images=images, return_tensors="pt").pixel_values
    mask_px = processor.preprocess(images=masks, resample=Image.Resampling.NEAREST, do_normalize=False,
                                   return_tensors="pt").pixel_values
    return pixels * mask_px


def siglip_embedder(generator: Any) -> Embedder:
    """An Embedder on `generator`'s SigLIP encoder (an AnyStoryGenerator)."""
    siglip, processor = generator.components.siglip, generator.encoder.processor

    @torch.no_grad()
    def embed(pictures: Sequence[Picture]) -> np.ndarray:
        param = next(siglip.parameters())
        out = siglip(_pixels(processor, pictures).to(device=param.device, dtype=param.dtype))
        pooled = out.pooler_output if getattr(out, "pooler_output", None) is not None else out.last_hidden_state.mean(1)
        return F.normalize(pooled.float(), dim=-1).cpu().numpy()

    return Embedder("siglip", embed, MATCH)
