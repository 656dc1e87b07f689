"""The FLUX transformer with AnyStory's streams: subject tokens, reference tokens, router tokens.

- Subject tokens are extra text tokens (they pass the context side like the prompt).
- Reference tokens attend only to their own subject's reference tokens, at timestep 0, through
  the "ref" LoRA. Nothing in that stream depends on the image or the step, so
  `reference_kv` runs it once, on its own, and returns every layer's keys and values; the
  image and text tokens then attend to them (the published reference cache, made explicit).
- Router tokens run beside the main tokens through the "router" LoRA, attend to the image
  keys and themselves, and give every layer its routing maps.
A stream that is off for a step is simply absent: no tokens, no LoRA, no bias.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import torch
from torch import nn

from engine.anystory.attention import (KV, Layout, ReferenceCache, RoutingInputs, attend, attend_per_subject,
                                       main_bias, rope, routing_maps)
from engine.anystory.lora import Lin, StreamLoRA
from engine.anystory.streams import Projected, Side, double_side, finish, project, single_side

RoutingHook = Callable[[int, torch.Tensor], None]


@dataclass
class StepInputs:
    """The conditioning of one forward pass; None / empty means the stream is off."""

    redux: Optional[torch.Tensor] = None  # (b, subjects*81, joint_dim), already scaled
    ref: Optional[ReferenceCache] = None  # the reference keys/values of every attention layer
    router: Optional[torch.Tensor] = None  # (b, subjects*9, joint_dim)
    router_ids: Optional[torch.Tensor] = None
    n_subjects: int = 0
    allow: Optional[torch.Tensor] = None  # (b, subjects, image tokens) bool: where boxes let subjects go
    on_routing: Optional[RoutingHook] = None  # called with (layer, 0/1 maps) when the router routes
    layouts: Optional[dict] = None  # Layouts (and their bias buffers) by token counts, kept for a whole render


class ImageTokens(NamedTuple):
    """The image tokens of one layer as routing and the router's attention need them."""

    x: torch.Tensor  # normalised, modulated
    key_proj: torch.Tensor  # key projection before qk-norm
    key: torch.Tensor  # (b, s, h, d) after qk-norm and rotary
    value: torch.Tensor


@dataclass
class _Pass:
    """Per-forward constants shared by all layers."""

    temb: torch.Tensor
    freqs_all: tuple
    freqs_image: tuple
    freqs_router: Optional[tuple]
    layout: Layout
    step: StepInputs


def _cat(*tensors: torch.Tensor) -> torch.Tensor:
    return torch.cat(tensors, dim=1)


class StreamTransformer:
    """Wraps a diffusers FluxTransformer2DModel (with AnyStory processors installed) and the
    per-stream LoRAs; `__call__` is one denoising forward, `reference_kv` the reference pass."""

    def __init__(self, model: nn.Module, loras: dict[str, StreamLoRA]):
        self.model = model
        doubles, singles = model.transformer_blocks, model.single_transformer_blocks
        self.blocks = list(doubles) + list(singles)
        self.n_double = len(doubles)
        self.main = ([(double_side(b, i, False), double_side(b, i, True)) for i, b in enumerate(doubles)]
                     + [(single_side(b, i), None) for i, b in enumerate(singles)])
        ref, router = loras["ref"], loras["router"]
        self.ref = [double_side(b, i, False, ref) for i, b in enumerate(doubles)]
        self.ref += [single_side(b, i, ref) for i, b in enumerate(singles)]
        self.router = [double_side(b, i, True, router) for i, b in enumerate(doubles)]
        self.router += [single_side(b, i, router) for i, b in enumerate(singles)]
        self.embed_ref = Lin(model.x_embedder, ref.get("x_embedder"))
        self.embed_router = Lin(model.context_embedder, router.get("context_embedder"))

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype  # the compute dtype, also when the linear weights are quantized

    def _temb(self, timestep: torch.Tensor, guidance: Optional[torch.Tensor], pooled: torch.Tensor) -> torch.Tensor:
        timestep = timestep.to(self.dtype) * 1000
        if guidance is None:
            return self.model.time_text_embed(timestep, pooled)
        return self.model.time_text_embed(timestep, guidance.to(self.dtype) * 1000, pooled)

    def reference_kv(self, tokens: torch.Tensor, ids: torch.Tensor, n_subjects: int, pooled: torch.Tensor,
                     guidance: Optional[torch.Tensor]) -> list[KV]:
        """Run the reference stream alone (timestep 0) and return each layer's keys/values."""
        x = self.embed_ref(tokens)
        temb = self._temb(torch.zeros(tokens.shape[0], device=tokens.device), guidance, pooled)
        freqs = self.model.pos_embed(ids)
        kv = []
        for n, side in enumerate(self.ref):
            p = project(side, x, temb, freqs)
            kv.append((p.key, p.value))
            if n + 1 < len(self.ref):
                x = finish(side, x, attend_per_subject(p.query, p.key, p.value, n_subjects), p)
        return kv

    def __call__(self, latents: torch.Tensor, timestep: torch.Tensor, guidance: Optional[torch.Tensor],
                 pooled: torch.Tensor, text: torch.Tensor, text_ids: torch.Tensor, image_ids: torch.Tensor,
                 step: StepInputs) -> torch.Tensor:
        """One forward: packed latents (b, n, c) -> predicted velocity (b, n, c)."""
        m = self.model
        h = m.x_embedder(latents)
        temb = self._temb(timestep, guidance, pooled)
        n_redux = 0 if step.redux is None else step.redux.shape[1]
        c = m.context_embedder(text if step.redux is None else _cat(text, step.redux.to(text.dtype)))
        ids = torch.cat([text_ids, text_ids.new_zeros(n_redux, text_ids.shape[1]), image_ids])
        freqs = m.pos_embed(ids)
        n_ctx = c.shape[1]
        r = None if step.router is None else self.embed_router(step.router.to(text.dtype))
        layout = self._layout(step, text.shape[1], n_redux, h.shape[1], h.dtype)
        ps = _Pass(temb, freqs, (freqs[0][n_ctx:], freqs[1][n_ctx:]),
                   None if r is None else m.pos_embed(step.router_ids), layout, step)
        for i in range(self.n_double):
            c, h, r = self._double(i, c, h, r, ps)
        x = _cat(c, h)
        for i in range(self.n_double, len(self.blocks)):
            x, r = self._single(i, x, r, n_ctx, ps)
        return m.proj_out(m.norm_out(x[:, n_ctx:], temb))

    @staticmethod
    def _layout(step: StepInputs, n_text: int, n_redux: int, n_image: int, dtype: torch.dtype) -> Layout:
        """The step's Layout, from `step.layouts` when an earlier step of the render built it."""
        ref = step.ref
        counts = () if ref is None else ref.counts
        key = (n_text, n_redux, n_image, counts)
        layouts = {} if step.layouts is None else step.layouts
        if key not in layouts:
            layouts[key] = Layout(n_text, n_redux, n_image, counts, step.n_subjects, dtype,
                                  None if ref is None else ref.bias)
        return layouts[key]

    def _double(self, i: int, c, h, r, ps: _Pass):
        image_side, context_side = self.main[i]
        pi, pc = project(image_side, h, ps.temb), project(context_side, c, ps.temb)
        n_ctx = c.shape[1]
        query = rope(_cat(pc.query, pi.query), ps.freqs_all)
        key = rope(_cat(pc.key, pi.key), ps.freqs_all)
        value = _cat(pc.value, pi.value)
        image = ImageTokens(pi.x, pi.key_proj, key[:, n_ctx:], pi.value)
        pr = None if r is None else project(self.router[i], r, ps.temb, ps.freqs_router)
        out, router_out = self._attention(i, query, key, value, image, image_side, pr, ps)
        c = finish(context_side, c, out[:, :n_ctx], pc)
        h = finish(image_side, h, out[:, n_ctx:], pi)
        r = None if pr is None else finish(self.router[i], r, router_out, pr)
        return c, h, r

    def _single(self, i: int, x, r, n_ctx: int, ps: _Pass):
        side = self.main[i][0]
        p = project(side, x, ps.temb, ps.freqs_all)
        image = ImageTokens(p.x[:, n_ctx:], p.key_proj[:, n_ctx:], p.key[:, n_ctx:], p.value[:, n_ctx:])
        pr = None if r is None else project(self.router[i], r, ps.temb, ps.freqs_router)
        out, router_out = self._attention(i, p.query, p.key, p.value, image, side, pr, ps)
        x = finish(side, x, out, p)
        r = None if pr is None else finish(self.router[i], r, router_out, pr)
        return x, r

    def _attention(self, i: int, query, key, value, image: ImageTokens, image_side: Side,
                   router: Optional[Projected], ps: _Pass):
        """Main attention (text, subject and image queries over those keys plus the reference
        keys, with the bias) and the router tokens' attention over image and router keys."""
        step, router_out = ps.step, None
        # without the router, boxes alone say where each subject may be attended
        maps = None if step.allow is None else step.allow.to(torch.float32)
        if router is not None:
            router_side = self.router[i]
            inputs = RoutingInputs(router.x, router_side.q.base(router.x), image.x, image.key_proj)
            maps = routing_maps(self.blocks[i].attn.processor, inputs, router_side.norm_q, image_side.norm_k,
                                image_side.head_dim, ps.freqs_router, ps.freqs_image, step.n_subjects, step.allow)
            if step.on_routing is not None:
                step.on_routing(i, maps)
            router_out = attend(router.query, _cat(image.key, router.key), _cat(image.value, router.value))
        if step.ref is not None:
            ref_key, ref_value = step.ref.kv[i]
            key, value = _cat(key, ref_key), _cat(value, ref_value)
        return attend(query, key, value, main_bias(ps.layout, maps)), router_out
