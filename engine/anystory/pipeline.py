"""The denoising loop: FLUX flow matching with AnyStory's per-step conditioning schedule.

Follows the published `generate` (itself diffusers' FluxPipeline loop): sigmas
linspace(1, 1/steps), the resolution-dependent shift `mu`, Euler steps of
FlowMatchEulerDiscreteScheduler. Per step, `plan_steps` says which streams are on. The
reference stream runs once, before the first step that uses it (the published reference
cache; with enable_ref_cache off it reruns at every such step, which gives the same values).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import numpy as np
import torch
from PIL import Image
from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline
from diffusers.pipelines.flux.pipeline_flux import calculate_shift, retrieve_timesteps
from diffusers.utils.torch_utils import randn_tensor

from engine.base import CancelFn, EngineError, ProgressFn, check_cancel
from engine.box import Box
from engine.anystory.attention import ReferenceCache, reference_cache
from engine.anystory.params import AnyStorySettings, StepPlan
from engine.anystory.routing import box_groups
from engine.anystory.transformer import RenderCache, RoutingHook, StepInputs, StreamTransformer

StepHook = Callable[[int, torch.Tensor], None]
LatentBlend = Callable[[int, float, torch.Tensor], torch.Tensor]
"""blend(step, sigma, latents) -> latents: rewrites the latents after a step, at noise level
sigma (region redo, engine/anystory/region.py, keeps what lies outside the region)."""


@dataclass
class Subjects:
    """The subjects of one render as device tensors, concatenated in subject order (batch 1)."""

    redux: torch.Tensor  # (1, n*81, joint_dim), unscaled
    router: torch.Tensor  # (1, n*9, joint_dim)
    ref_tokens: torch.Tensor  # (1, n*r, channels)
    ref_ids: torch.Tensor  # (n*r, 3)
    ref_mask: torch.Tensor  # (1, n*r, 1)
    count: int
    allow: Optional[torch.Tensor] = None  # (1, n, image tokens) bool from character boxes, None: free


def box_allow(boxes: list[Optional[tuple[float, float, float, float]]], height: int, width: int,
              device) -> Optional[torch.Tensor]:
    """(1, subjects, image tokens) bool: the packed-latent tokens (16x16 pixel cells, row-major)
    whose centres lie in each subject's normalised box (x0, y0, x1, y1); at least the cell under
    the box centre. A subject without a box may go anywhere; None when no subject has a box."""
    if all(box is None for box in boxes):
        return None
    rows, cols = height // 16, width // 16
    ys, xs = (torch.arange(rows) + 0.5) / rows, (torch.arange(cols) + 0.5) / cols
    allow = torch.ones(len(boxes), rows, cols, dtype=torch.bool)
    for j, box in enumerate(boxes):
        if box is None:
            continue
        try:
            x0, y0, x1, y1 = Box.of(box)
        except ValueError as exc:
            raise EngineError(f"a character box: {exc}") from None
        inside = ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]
        if not inside.any():
            inside[min(int((y0 + y1) / 2 * rows), rows - 1), min(int((x0 + x1) / 2 * cols), cols - 1)] = True
        allow[j] = inside
    return allow.flatten(1)[None].to(device)


def stack_subjects(encodings: list[dict[str, torch.Tensor]]) -> Optional[Subjects]:
    """Concatenate per-subject encodings (engine.anystory.encoder layout) in subject order."""
    if not encodings:
        return None

    def cat(name: str, batch: bool) -> torch.Tensor:
        return torch.cat([e[name][None] if batch else e[name] for e in encodings], dim=1 if batch else 0)

    return Subjects(cat("redux_embeds", True), cat("router_embeds", True), cat("ref_tokens", True),
                    cat("ref_ids", False), cat("ref_mask", True), len(encodings))


@dataclass
class Prompt:
    embeds: torch.Tensor  # (1, tokens, joint_dim)
    pooled: torch.Tensor  # (1, pooled_dim)
    ids: torch.Tensor  # (tokens, 3)


def initial_latents(pipe: FluxPipeline, height: int, width: int, seed: int, device, dtype) -> torch.Tensor:
    """Packed starting noise, drawn on the CPU from `seed` (the same on every device), as
    FluxPipeline.prepare_latents draws it."""
    channels = pipe.transformer.config.in_channels // 4
    scale = pipe.vae_scale_factor * 2
    shape = (1, channels, 2 * (height // scale), 2 * (width // scale))
    noise = randn_tensor(shape, generator=torch.Generator("cpu").manual_seed(seed), dtype=torch.float32)
    return FluxPipeline._pack_latents(noise, *shape).to(device=device, dtype=dtype)


def image_ids(pipe: FluxPipeline, height: int, width: int, device, dtype) -> torch.Tensor:
    scale = pipe.vae_scale_factor * 2
    return FluxPipeline._prepare_latent_image_ids(1, height // scale, width // scale, device, dtype)


def _timesteps(scheduler, steps: int, image_tokens: int, device) -> torch.Tensor:
    sigmas = np.linspace(1.0, 1 / steps, steps)
    cfg = scheduler.config
    mu = calculate_shift(image_tokens, cfg.base_image_seq_len, cfg.max_image_seq_len, cfg.base_shift, cfg.max_shift)
    timesteps, _ = retrieve_timesteps(scheduler, steps, device, sigmas=sigmas, mu=mu)
    return timesteps


@dataclass
class DenoiseHooks:
    """What a caller sees of the loop: `cancel` is checked before each step, `on_step(i, latents)`
    and `progress(i + 1, steps)` run after it, `on_routing(step, layer, maps)` whenever the router
    routes (asking for it makes every routing layer build its 0/1 maps)."""

    progress: Optional[ProgressFn] = None
    cancel: Optional[CancelFn] = None
    on_step: Optional[StepHook] = None
    on_routing: Optional[Callable[[int, int, torch.Tensor], None]] = None
    blend: Optional[LatentBlend] = None  # applied to the latents after each step (region redo)

    def after_step(self, i: int, latents: torch.Tensor, steps: int) -> None:
        """Tell the caller step `i` of `steps` is done."""
        if self.on_step is not None:
            self.on_step(i, latents)
        if self.progress is not None:
            self.progress(i + 1, steps)


class Conditioning:
    """The subjects' conditioning over one render: per step the streams its plan turns on
    (`step_inputs`), with what does not change between steps built once: the reference cache
    (filled by the first step that uses it), what the boxes allow as token groups and as
    refusals for the router, the attention layouts and rotary frequencies."""

    def __init__(self, model: StreamTransformer, subjects: Optional[Subjects], settings: AnyStorySettings,
                 prompt: Prompt, guidance: Optional[torch.Tensor]):
        self.model, self.subjects, self.settings = model, subjects, settings
        self.prompt, self.guidance = prompt, guidance
        self.ref: Optional[ReferenceCache] = None
        self.cache = RenderCache()
        boxed = subjects is not None and subjects.allow is not None
        self.box_groups = box_groups(subjects.allow) if boxed else None
        self.box_refused = ~subjects.allow[0].T.contiguous() if boxed else None

    def _reference(self) -> ReferenceCache:
        """The reference cache, computed on first use (every use with enable_ref_cache off)."""
        if self.ref is None or not self.settings.enable_ref_cache:
            s = self.subjects
            kv = self.model.reference_kv(s.ref_tokens, s.ref_ids, s.count, self.prompt.pooled, self.guidance)
            self.ref = reference_cache(kv, s.ref_mask, s.count, use_mask=self.settings.enable_ref_mask,
                                       ref_shift=self.settings.ref_shift)
        return self.ref

    def step_inputs(self, plan: StepPlan, on_routing: Optional[RoutingHook]) -> StepInputs:
        """The conditioning one step's `plan` turns on."""
        s = self.subjects
        if s is None or not plan.conditioned:
            return StepInputs(cache=self.cache)
        return StepInputs(
            redux=s.redux * self.settings.redux_scale if plan.redux else None,
            ref=self._reference() if plan.ref else None,
            router=s.router if plan.router else None,
            n_subjects=s.count,
            box_refused=self.box_refused,
            box_groups=None if plan.router else self.box_groups,
            on_routing=on_routing if plan.router else None,
            cache=self.cache,
        )


def denoise(model: StreamTransformer, scheduler_config: dict, latents: torch.Tensor, image_ids: torch.Tensor,
            prompt: Prompt, guidance: float, plans: list[StepPlan], subjects: Optional[Subjects],
            settings: AnyStorySettings, hooks: Optional[DenoiseHooks] = None) -> torch.Tensor:
    """Run one Euler step per plan from `latents` (packed); returns the final latents."""
    hooks = hooks or DenoiseHooks()
    device = latents.device
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(scheduler_config)
    timesteps = _timesteps(scheduler, len(plans), latents.shape[1], device)
    guide = torch.tensor([guidance], device=device) if model.model.config.guidance_embeds else None
    conditioning = Conditioning(model, subjects, settings, prompt, guide)
    for i, (t, plan) in enumerate(zip(timesteps, plans)):
        check_cancel(hooks.cancel)
        on_routing = None if hooks.on_routing is None else partial(hooks.on_routing, i)
        noise = model(latents=latents, timestep=t.expand(latents.shape[0]).to(latents.dtype) / 1000,
                      guidance=guide, pooled=prompt.pooled, text=prompt.embeds, text_ids=prompt.ids,
                      image_ids=image_ids, step=conditioning.step_inputs(plan, on_routing))
        latents = scheduler.step(noise, t, latents, return_dict=False)[0]
        if hooks.blend is not None:
            latents = hooks.blend(i, float(scheduler.sigmas[i + 1]), latents)
        hooks.after_step(i, latents, len(plans))
    return latents


def decode(pipe: FluxPipeline, latents: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Packed latents -> (height, width, 3) float image in [0, 1]."""
    vae = pipe.vae
    latents = FluxPipeline._unpack_latents(latents, height, width, pipe.vae_scale_factor)
    latents = latents / vae.config.scaling_factor + vae.config.shift_factor
    image = vae.decode(latents.to(vae.dtype), return_dict=False)[0]
    return pipe.image_processor.postprocess(image, output_type="np")[0]


def to_image(image: np.ndarray) -> Image.Image:
    """A (h, w, 3) float image in [0, 1] as an 8-bit PIL image (rounded, as diffusers does)."""
    return Image.fromarray((image * 255).round().clip(0, 255).astype(np.uint8))


class RoutingAverage:
    """Collects routing maps (step, layer, (1, subjects, tokens) maps) and averages those of
    steps >= `first_step` over layers and steps."""

    def __init__(self, first_step: int = 0):
        self.first_step, self.total, self.count = first_step, None, 0

    def __call__(self, step: int, layer: int, maps: torch.Tensor) -> None:
        if step >= self.first_step:
            self.total = maps[0].float() if self.total is None else self.total + maps[0]
            self.count += 1

    def images(self, height: int, width: int, fallback: Optional[torch.Tensor] = None) -> Optional[list[np.ndarray]]:
        """Per subject an (height, width) float32 map in [0, 1] (each token cell is 16x16
        pixels); `fallback` (subjects, tokens) when the router never ran; None without either."""
        maps = self.total / self.count if self.count else fallback
        if maps is None:
            return None
        grid = maps.float().reshape(maps.shape[0], height // 16, width // 16).cpu()
        full = grid.repeat_interleave(16, dim=1).repeat_interleave(16, dim=2)
        return [m.clamp(0, 1).numpy() for m in full]
