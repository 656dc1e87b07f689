"""The FLUX transformer with AnyStory's streams: subject tokens, reference tokens, router tokens.

- Subject tokens are extra text tokens (they pass the context side like the prompt).
- Reference tokens attend only to their own subject's reference tokens, at timestep 0, through
  the "ref" LoRA. Nothing in that stream depends on the image or the step, so
  `reference_kv` runs it once, on its own, and returns every layer's keys and values; the
  image and text tokens then attend to them (the published reference cache, made explicit).
- Router tokens pass the context side (the single side in single blocks) with the "router"
  LoRA, attend to the image keys and themselves, and give every layer its routing
  (engine.anystory.routing). They ride in front of the text tokens, [router, text, subject
  tokens, image], so the layers' base norms and projections run once over both (as the floor's
  extra text tokens would); only their modulation and LoRA updates are theirs alone
  (`streams.per_row`, `lora.StreamLinear` rows). They sit at position 0 (as published), where
  the rotary embedding turns nothing (cos 1, sin 0: exactly the identity).
A stream that is off for a step is simply absent: no tokens, no LoRA, no routing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from engine.anystory.attention import KV, Layout, ReferenceCache, attend_per_subject, rope, routed_attention, turns
from engine.anystory.lora import StreamLinear, StreamLoRA
from engine.anystory.routing import TokenGroup, route_tokens, routing_layer, winner_groups, winner_maps
from engine.anystory.streams import Side, double_side, finish, modulate, per_row, project, single_side

RoutingHook = Callable[[int, torch.Tensor], None]


@dataclass
class StepInputs:
    """The conditioning of one forward pass; None / empty means the stream is off."""

    redux: Optional[torch.Tensor] = None  # (b, subjects*81, joint_dim), already scaled
    ref: Optional[ReferenceCache] = None  # the reference keys/values of every attention layer
    router: Optional[torch.Tensor] = None  # (b, subjects*9, joint_dim)
    n_subjects: int = 0
    box_refused: Optional[torch.Tensor] = None  # (image tokens, subjects) bool: where boxes keep subjects out
    box_groups: Optional[list[TokenGroup]] = None  # the image tokens grouped by the boxes (router off)
    on_routing: Optional[RoutingHook] = None  # called with (layer, 0/1 maps) when the router routes
    cache: Optional[RenderCache] = None  # what stays the same over the render's steps


@dataclass
class RenderCache:
    """What stays the same over the steps of one render, built by the first step that needs
    it: attention layouts and rotary frequencies, by token counts."""

    layouts: dict = field(default_factory=dict)
    rope: dict = field(default_factory=dict)


@dataclass
class ForwardConstants:
    """What every layer of one forward pass shares."""

    temb: torch.Tensor  # timestep (+ guidance, pooled text) embedding
    temb_act: torch.Tensor  # SiLU(temb), the input of every block's modulation
    rope_all: torch.Tensor  # rotary turns (attention.turns) of the main tokens [router, text, subject tokens, image]
    rope_image: torch.Tensor  # ... of the image tokens alone
    layout: Layout
    step: StepInputs


def _cat(*tensors: torch.Tensor) -> torch.Tensor:
    return torch.cat(tensors, dim=1)


class StreamTransformer:
    """Wraps a diffusers FluxTransformer2DModel (with AnyStory processors installed) and the
    per-stream LoRAs; `__call__` is one denoising forward, `reference_kv` the reference pass.
    `merge_routing`: let the routing-map projections merge their factors where that is cheaper
    (engine.anystory.routing.RoutingLinear); off for offloaded weights, which are not in place."""

    def __init__(self, model: nn.Module, loras: dict[str, StreamLoRA], merge_routing: bool = True):
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
        self.router_lora = router
        self._riding: dict[tuple[int, int], Side] = {}  # (layer, router rows) -> side with the router LoRA on them
        # the routing-map projections live on each layer's attention processor (engine.anystory.attention)
        self.routing = [routing_layer(block.attn.processor, query_base=router_side.q.base, key_base=image_side.k.base,
                                      norm_q=router_side.norm_q, norm_k=image_side.norm_k,
                                      head_dim=image_side.head_dim, merge=merge_routing)
                        for block, router_side, (image_side, _) in zip(self.blocks, self.router, self.main)]
        self.embed_ref = StreamLinear(model.x_embedder, ref.get("x_embedder"))
        self.embed_router = StreamLinear(model.context_embedder, router.get("context_embedder"))
        self.project, self.finish = project, finish  # the per-stream block math (`compile` swaps them)

    def compile(self, mode: str = "default", backend: str = "inductor") -> None:
        """Compile the per-stream block math that every layer repeats (`streams.project` and
        `streams.finish`: norms, modulation, projections, rotary embedding, feed-forward) with
        torch.compile; "reduce-overhead" adds CUDA graphs. Routing and attention stay eager:
        their token groups change from layer to layer. For the CPU-bound steps of small panels
        on CUDA; off unless asked for (ANYSTORY_COMPILE)."""
        # one graph per kind of side (double/single, main/reference/router) and token count
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        options = {"mode": mode} if backend == "inductor" else {}
        self.project = torch.compile(project, backend=backend, **options)
        self.finish = torch.compile(finish, backend=backend, **options)

    def _temb(self, timestep: torch.Tensor, guidance: Optional[torch.Tensor], pooled: torch.Tensor,
              dtype: torch.dtype) -> torch.Tensor:
        """The time (+ guidance, pooled text) embedding, in the hidden states' `dtype` as diffusers'
        forward does (reading the model's dtype walks all its parameters: about a millisecond)."""
        timestep = timestep.to(dtype) * 1000
        if guidance is None:
            return self.model.time_text_embed(timestep, pooled)
        return self.model.time_text_embed(timestep, guidance.to(dtype) * 1000, pooled)

    def reference_kv(self, tokens: torch.Tensor, ids: torch.Tensor, n_subjects: int, pooled: torch.Tensor,
                     guidance: Optional[torch.Tensor]) -> list[KV]:
        """Run the reference stream alone (timestep 0) and return each layer's keys/values."""
        x = self.embed_ref(tokens)
        temb = self._temb(torch.zeros(tokens.shape[0], device=tokens.device), guidance, pooled, x.dtype)
        temb_act, freqs = F.silu(temb), turns(self.model.pos_embed(ids))
        kv = []
        for n, side in enumerate(self.ref):
            projected = self.project(side, x, modulate(side, temb_act), freqs)
            kv.append((projected.key, projected.value))
            if n + 1 < len(self.ref):
                attended = attend_per_subject(projected.query, projected.key, projected.value, n_subjects)
                x = self.finish(side, x, attended, projected)
        return kv

    def __call__(self, latents: torch.Tensor, timestep: torch.Tensor, guidance: Optional[torch.Tensor],
                 pooled: torch.Tensor, text: torch.Tensor, text_ids: torch.Tensor, image_ids: torch.Tensor,
                 step: StepInputs) -> torch.Tensor:
        """One forward: packed latents (b, n, c) -> predicted velocity (b, n, c)."""
        model = self.model
        image = model.x_embedder(latents)
        n_redux = 0 if step.redux is None else step.redux.shape[1]
        context = model.context_embedder(text if step.redux is None else _cat(text, step.redux.to(text.dtype)))
        n_router = 0 if step.router is None else step.router.shape[1]
        if n_router:
            context = _cat(self.embed_router(step.router.to(text.dtype)), context)
        layout = self._layout(step, n_router=n_router, n_text=text.shape[1], n_redux=n_redux, n_image=image.shape[1],
                              dtype=image.dtype)
        zeros = text_ids.new_zeros  # router and subject tokens sit at position 0
        ids = torch.cat([zeros(n_router, text_ids.shape[1]), text_ids, zeros(n_redux, text_ids.shape[1]), image_ids])
        constants = self._constants(step, layout, self._temb(timestep, guidance, pooled, image.dtype), ids=ids)
        for i in range(self.n_double):
            context, image = self._double(i, context, image, constants)
        tokens = _cat(context, image)
        for i in range(self.n_double, len(self.blocks)):
            tokens = self._single(i, tokens, constants, last=i == len(self.blocks) - 1)
        # the last single block returns only the image tokens; the slice also covers a model without single blocks
        return model.proj_out(model.norm_out(tokens[:, -layout.n_image:], constants.temb))

    def _constants(self, step: StepInputs, layout: Layout, temb: torch.Tensor, ids: torch.Tensor) -> ForwardConstants:
        """What the layers of this forward share; rotary frequencies from the render's cache."""
        cache = step.cache or RenderCache()
        key = (layout.n_router, layout.n_text, layout.n_redux, layout.n_image)
        if key not in cache.rope:
            cache.rope[key] = turns(self.model.pos_embed(ids))
        freqs = cache.rope[key]
        lead = layout.n_lead
        return ForwardConstants(temb=temb, temb_act=F.silu(temb), rope_all=freqs,
                                rope_image=freqs[lead:], layout=layout, step=step)

    @staticmethod
    def _layout(step: StepInputs, n_router: int, n_text: int, n_redux: int, n_image: int,
                dtype: torch.dtype) -> Layout:
        """The step's Layout, from `step.cache` when an earlier step of the render built it."""
        ref = step.ref
        counts, shift = ((), 0.0) if ref is None else (ref.counts, ref.shift)
        key = (n_router, n_text, n_redux, n_image, counts)
        layouts = {} if step.cache is None else step.cache.layouts
        if key not in layouts:
            layouts[key] = Layout(n_text=n_text, n_redux=n_redux, n_image=n_image, ref_counts=counts,
                                  n_subjects=step.n_subjects, dtype=dtype, ref_shift=shift, n_router=n_router)
        return layouts[key]

    def _double(self, i: int, context: torch.Tensor, image: torch.Tensor, constants: ForwardConstants):
        """A double block: image and context tokens (router tokens in front) on their own sides,
        one joint attention."""
        image_side, n_router = self.main[i][0], constants.layout.n_router
        context_side = self._with_router(i, n_router)
        context_proj = self.project(context_side, context, self._modulation(i, context.shape[1], constants))
        image_proj = self.project(image_side, image, modulate(image_side, constants.temb_act))
        n_context = context.shape[1]
        query = rope(_cat(context_proj.query, image_proj.query), constants.rope_all)
        key = rope(_cat(context_proj.key, image_proj.key), constants.rope_all)
        value = _cat(context_proj.value, image_proj.value)
        router_x = context_proj.x[:, :n_router] if n_router else None
        groups = self._groups(i, image_proj.x, image_proj.key_proj, router_x, constants)
        out = self._main_attention(i, query, key, value, groups, constants)
        context = self.finish(context_side, context, out[:, :n_context], context_proj)
        image = self.finish(image_side, image, out[:, n_context:], image_proj)
        return context, image

    def _single(self, i: int, tokens: torch.Tensor, constants: ForwardConstants, last: bool = False) -> torch.Tensor:
        """A single block: router, context and image tokens as one sequence. Only the image
        tokens leave the `last` block, so there it finishes just those, and the router tokens
        get no LoRA: only their modulated norm counts, for the routing decision."""
        n_router, lead = constants.layout.n_router, constants.layout.n_lead
        side = self.main[i][0] if last else self._with_router(i, n_router)
        projected = self.project(side, tokens, self._modulation(i, tokens.shape[1], constants), constants.rope_all)
        router_x = projected.x[:, :n_router] if n_router else None
        groups = self._groups(i, projected.x[:, lead:], projected.key_proj[:, lead:], router_x, constants)
        out = self._main_attention(i, projected.query, projected.key, projected.value, groups, constants,
                                   image_only=last)
        if last:
            image_rows = replace(projected, mlp=projected.mlp[:, lead:], mods=_image_rows(projected.mods, lead))
            return self.finish(side, tokens[:, lead:], out, image_rows)
        return self.finish(side, tokens, out, projected)

    def _with_router(self, i: int, n_router: int) -> Side:
        """Layer i's side for the sequence the router tokens ride in (its first `n_router` rows):
        the main side with the router LoRA on those rows; the main side itself without them."""
        if not n_router:
            return self._text_side(i)
        if (i, n_router) not in self._riding:
            block, lora = self.blocks[i], self.router_lora
            self._riding[i, n_router] = (double_side(block, i, True, lora, n_router) if i < self.n_double
                                         else single_side(block, i - self.n_double, lora, n_router))
        return self._riding[i, n_router]

    def _text_side(self, i: int) -> Side:
        """The side the text tokens take in layer i: a double block's context side, or the single side."""
        return self.main[i][1] if i < self.n_double else self.main[i][0]

    def _modulation(self, i: int, rows: int, constants: ForwardConstants) -> torch.Tensor:
        """Layer i's modulation of the sequence the router tokens ride in: the main side's for
        every row, or per row with the router's own (its LoRA) on the first rows."""
        n_router = constants.layout.n_router
        main = modulate(self._text_side(i), constants.temb_act)
        if not n_router:
            return main
        router = modulate(self.router[i], constants.temb_act, main)
        return per_row((router, n_router), (main, rows - n_router))

    def _groups(self, i: int, image_x: torch.Tensor, image_key: torch.Tensor, router_x: Optional[torch.Tensor],
                constants: ForwardConstants) -> Optional[list[TokenGroup]]:
        """Layer i's image-token groups: routed when the router runs, else by the boxes (or none)."""
        step = constants.step
        if router_x is None:
            return step.box_groups
        winner = route_tokens(self.routing[i], router_x, image_x, image_key, constants.rope_image,
                              step.n_subjects, step.box_refused)
        if step.on_routing is not None:
            step.on_routing(i, winner_maps(winner, step.n_subjects))
        return winner_groups(winner, step.n_subjects)

    @staticmethod
    def _main_attention(i: int, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                        groups: Optional[list[TokenGroup]], constants: ForwardConstants,
                        image_only: bool = False) -> torch.Tensor:
        """Layer i's attention over its keys plus the reference keys (engine.anystory.attention)."""
        ref = constants.step.ref
        if ref is not None:
            key, value = _cat(key, ref.kv[i][0]), _cat(value, ref.kv[i][1])
        return routed_attention(query, key, value, constants.layout, groups, image_only=image_only)


def _image_rows(mods: tuple[torch.Tensor, ...], lead: int) -> tuple[torch.Tensor, ...]:
    """Modulation chunks for the image rows alone (those past `lead`); broadcast ones as they are."""
    return tuple(m[:, lead:] if m.dim() == 3 else m for m in mods)
