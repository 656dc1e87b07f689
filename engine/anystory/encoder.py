"""Subject encoding: a character's picture and mask -> the tensors AnyStory conditions on.

- SigLIP (384 px) on the masked picture -> the AnyStory Redux embedder with the token mask
  -> 81 subject tokens and 9 router tokens.
- The masked picture at ref_size x ref_size through the FLUX VAE -> packed reference latents,
  their RoPE ids (shifted left by ref_size/16 so they never coincide with the image's), and
  the reference-token mask.
Deliberate difference: the VAE latent *mean* is used instead of a random sample, so a
character's encoding is deterministic and can be cached once per character version.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import FluxPipeline
from PIL import Image
from transformers import SiglipVisionModel
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

from engine.anystory.embedder import SubjectEmbedders

SIGLIP_SIZE = 384


class SubjectEncoder:
    """Computes `encode(image, mask)` -> dict of tensors without batch dimension: redux_embeds
    (81, d), router_embeds (9, d), ref_tokens (n, c), ref_ids (n, 3), ref_mask (n, 1)."""

    def __init__(self, siglip: SiglipVisionModel, embedders: SubjectEmbedders, pipe: FluxPipeline, ref_size: int):
        self.siglip, self.embedders, self.pipe, self.ref_size = siglip, embedders, pipe, ref_size
        self.processor = SiglipImageProcessorPil(size={"height": SIGLIP_SIZE, "width": SIGLIP_SIZE})

    @torch.no_grad()
    def encode(self, image: Image.Image, mask: Image.Image) -> dict[str, torch.Tensor]:
        redux, router = self._embed(image, mask)
        tokens, ids, ref_mask = self._reference(image, mask)
        return {"redux_embeds": redux[0], "router_embeds": router[0], "ref_tokens": tokens[0], "ref_ids": ids,
                "ref_mask": ref_mask[0]}

    def _embed(self, image: Image.Image, mask: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        param = next(self.siglip.parameters())
        pixels = self.processor.preprocess(images=image.convert("RGB"), return_tensors="pt").pixel_values
        mask_px = self.processor.preprocess(images=mask.convert("RGB"), resample=Image.Resampling.NEAREST,
                                            do_normalize=False, return_tensors="pt").pixel_values
        pixels = (pixels * mask_px).to(device=param.device, dtype=param.dtype)
        tokens = self.siglip(pixels).last_hidden_state
        side = self.siglip.config.image_size // self.siglip.config.patch_size
        token_mask = F.adaptive_avg_pool2d(mask_px.mean(dim=1, keepdim=True), side) > 0
        # tokens.device: under group offloading the weights (param.device) wait on the CPU
        token_mask = token_mask.flatten(2).transpose(1, 2).to(device=tokens.device, dtype=param.dtype)
        return self.embedders(tokens, token_mask)

    def _reference(self, image: Image.Image, mask: Image.Image):
        pipe, size = self.pipe, self.ref_size
        vae = pipe.vae
        pixels = pipe.image_processor.preprocess(image.convert("RGB"), height=size, width=size)
        mask_px = np.asarray(mask.convert("L").resize((size, size), resample=Image.Resampling.NEAREST))
        mask_t = torch.from_numpy(mask_px.astype(np.float32) / 255.0)[None, None]
        pixels = (pixels * mask_t).to(device=vae.device, dtype=vae.dtype)
        latent = vae.encode(pixels).latent_dist.mean
        latent = (latent - vae.config.shift_factor) * vae.config.scaling_factor
        tokens = FluxPipeline._pack_latents(latent, *latent.shape)
        ids = FluxPipeline._prepare_latent_image_ids(1, latent.shape[2] // 2, latent.shape[3] // 2,
                                                     latent.device, latent.dtype)
        ids[:, 2] -= size // 16
        grid = size // 16
        ref_mask = (F.adaptive_avg_pool2d(mask_t, grid) > 0).flatten(2).transpose(1, 2).to(latent.dtype)
        return tokens, ids, ref_mask
