"""AnyStory attention: the processor installed on every FLUX attention, routing maps, and the
attention bias of the reference mask, ref_shift and routing.

Deliberate difference from the published code: the bias is never built per head. Without
routing it is one row per key, shape (b, 1, 1, k) (ref_shift and the reference mask depend on
the key only); with routing it is (b, 1, q, k), shared by all heads. Without any bias the
attention runs unmasked, so fused kernels apply. The values are the published ones: 0 where
allowed, -100 where masked, plus ref_shift on reference keys.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor
from torch import nn

from engine.anystory.embedder import LORA_RANK

MASKED = -100.0  # the published additive penalty for a disallowed key


class AnyStoryAttnProcessor(FluxAttnProcessor, nn.Module):
    """FLUX attention processor carrying the router's routing-map projections of one layer.

    Called by a stock diffusers forward it is exactly `FluxAttnProcessor`; the multi-stream
    forward (engine.anystory.transformer) uses its projections to compute routing maps.
    Parameter names follow the published checkpoint
    (transformer.<block>.attn.processor.to_{q,k}_routing_map_lora_{A,B}).
    """

    def __init__(self, hidden_size: int, rank: int = LORA_RANK):
        nn.Module.__init__(self)
        FluxAttnProcessor.__init__(self)
        self.to_q_routing_map_lora_A = nn.Linear(hidden_size, rank, bias=False)
        self.to_q_routing_map_lora_B = nn.Linear(rank, hidden_size, bias=True)
        self.to_k_routing_map_lora_A = nn.Linear(hidden_size, rank, bias=False)
        self.to_k_routing_map_lora_B = nn.Linear(rank, hidden_size, bias=True)

    __call__ = FluxAttnProcessor.__call__

    def query_update(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_q_routing_map_lora_B(self.to_q_routing_map_lora_A(x))

    def key_update(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_k_routing_map_lora_B(self.to_k_routing_map_lora_A(x))


def install_processors(transformer: nn.Module) -> None:
    """Put an AnyStoryAttnProcessor on every attention of a FluxTransformer2DModel."""
    hidden = transformer.config.num_attention_heads * transformer.config.attention_head_dim
    param = next(transformer.parameters())
    transformer.set_attn_processor({
        name: AnyStoryAttnProcessor(hidden).to(device=param.device, dtype=param.dtype)
        for name in transformer.attn_processors
    })


def rope(x: torch.Tensor, freqs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotary embedding of (b, s, h, d) tokens."""
    return apply_rotary_emb(x, freqs, sequence_dim=1)


def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
           bias: Optional[torch.Tensor] = None, backend=None) -> torch.Tensor:
    """Scaled dot-product attention of (b, s, h, d) tensors -> (b, s, h*d)."""
    out = dispatch_attention_fn(query, key, value, attn_mask=bias, backend=backend)
    return out.flatten(2, 3).to(query.dtype)


def attend_per_subject(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, n_subjects: int) -> torch.Tensor:
    """Attention restricted to each subject's own reference tokens (block-diagonal)."""
    b = query.shape[0]
    split = [t.unflatten(1, (n_subjects, -1)).flatten(0, 1) for t in (query, key, value)]
    return attend(*split).unflatten(0, (b, n_subjects)).flatten(1, 2)


@dataclass
class RoutingInputs:
    """What one layer needs for its routing maps: normalised router tokens, the router's base
    query projection (without its LoRA), normalised image tokens and their key projection."""

    router_x: torch.Tensor
    router_query: torch.Tensor
    image_x: torch.Tensor
    image_key: torch.Tensor


def routing_maps(processor: AnyStoryAttnProcessor, inputs: RoutingInputs, norm_q: nn.Module, norm_k: nn.Module,
                 head_dim: int, rope_router, rope_image, n_subjects: int,
                 allow: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(b, subjects, image tokens) 0/1 maps: each image token goes to the subject whose head- and
    token-averaged router query gives the largest logit (computed in float32). With `allow`
    (b, subjects, image tokens; character boxes) a subject only competes where allowed, and a
    token no subject may take goes to none of them (background)."""
    query = inputs.router_query + processor.query_update(inputs.router_x)
    query = rope(norm_q(query.unflatten(-1, (-1, head_dim))), rope_router)
    query = query.float().unflatten(1, (n_subjects, -1)).mean(dim=(2, 3))  # b, subjects, d
    key = inputs.image_key + processor.key_update(inputs.image_x)
    key = rope(norm_k(key.unflatten(-1, (-1, head_dim))), rope_image).float().mean(dim=2)  # b, tokens, d
    logits = torch.bmm(query, key.transpose(1, 2))
    if allow is not None:
        logits = logits.masked_fill(~allow, float("-inf"))
    maps = torch.zeros_like(logits).scatter_(1, logits.argmax(dim=1, keepdim=True), 1.0)
    return maps if allow is None else maps * allow


@dataclass
class Layout:
    """Token layout of the main attention: queries [text, subject, image]; keys the same plus
    the reference tokens. `ref_bias` (b, 1, 1, n_ref) holds ref_shift and the reference mask."""

    n_text: int
    n_redux: int
    n_image: int
    n_ref: int
    n_subjects: int
    dtype: torch.dtype
    ref_bias: Optional[torch.Tensor] = None

    def __post_init__(self) -> None:
        self.key_bias = None  # (b, 1, 1, keys): the reference bias behind zeros for the other keys
        if self.ref_bias is not None and self.n_ref:
            zeros = self.ref_bias.new_zeros(*self.ref_bias.shape[:3], self.n_queries)
            self.key_bias = torch.cat([zeros, self.ref_bias], dim=-1)
        self._subject_blocks: Optional[torch.Tensor] = None
        self._buffer: Optional[torch.Tensor] = None

    @property
    def n_queries(self) -> int:
        return self.n_text + self.n_redux + self.n_image

    @property
    def n_keys(self) -> int:
        return self.n_queries + self.n_ref

    def subject_blocks(self, device: torch.device) -> torch.Tensor:
        """(subjects, keys): -100 on each subject's own subject and reference tokens, else 0."""
        if self._subject_blocks is None:
            blocks = torch.zeros(self.n_subjects, self.n_keys, device=device, dtype=self.dtype)
            for start, count in ((self.n_text, self.n_redux), (self.n_queries, self.n_ref)):
                per = count // self.n_subjects
                for j in range(self.n_subjects):
                    blocks[j, start + j * per:start + (j + 1) * per] = MASKED
            self._subject_blocks = blocks
        return self._subject_blocks

    def routed_bias(self, maps: torch.Tensor) -> torch.Tensor:
        """(b, 1, queries, keys) bias keeping each image token off the subject and reference
        tokens of the subjects its 0/1 `maps` (b, subjects, image tokens) do not give it.
        Rows are padded to 8 keys so fused kernels take the bias without a copy; the buffer is
        reused by every layer of the forward (its text rows never change)."""
        b, head = maps.shape[0], self.n_text + self.n_redux
        if self._buffer is None:
            padded = -(-self.n_keys // 8) * 8
            self._buffer = torch.zeros(b, 1, self.n_queries, padded, device=maps.device,
                                       dtype=self.dtype)[..., :self.n_keys]
            if self.key_bias is not None:
                self._buffer[:, :, :head] = self.key_bias
        refused = (1.0 - maps).transpose(1, 2).to(self.dtype)  # b, image tokens, subjects
        image_rows = torch.matmul(refused, self.subject_blocks(maps.device))
        if self.key_bias is not None:
            image_rows += self.key_bias[:, 0]
        self._buffer[:, 0, head:] = image_rows
        return self._buffer


def reference_bias(ref_mask: torch.Tensor, use_mask: bool, ref_shift: float,
                   dtype: torch.dtype) -> Optional[torch.Tensor]:
    """The bias on reference keys, (b, 1, 1, n_ref) from a (b, n_ref, 1) mask: ref_shift
    everywhere, and -100 outside the subjects' masks when `use_mask`; None when neutral."""
    if not use_mask and ref_shift == 0:
        return None
    bias = torch.full((ref_mask.shape[0], 1, 1, ref_mask.shape[1]), float(ref_shift), device=ref_mask.device,
                      dtype=dtype)
    if use_mask:
        bias += (ref_mask.to(dtype).reshape(bias.shape) - 1.0) * -MASKED
    return bias


def main_bias(layout: Layout, maps: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """The bias of the main attention: `layout.key_bias` alone (b, 1, 1, keys), or with routing
    maps (b, 1, queries, keys), keeping each image token off the subject and reference tokens
    of the subjects it is not routed to (-100, as published)."""
    return layout.key_bias if maps is None else layout.routed_bias(maps)
