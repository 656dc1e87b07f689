"""AnyStory attention: the processor installed on every FLUX attention, routing maps, the
reference keys the main attention uses, and the attention bias of ref_shift and routing.

Deliberate differences from the published code, both for speed:
- The bias is never built per head. Without routing it is one row per key, shape
  (b, 1, 1, k) (ref_shift depends on the key only); with routing it is (b, 1, q, k), shared by
  all heads. Without any bias the attention runs unmasked, so fused kernels apply. The values
  are the published ones: 0 where allowed, -100 where masked, plus ref_shift on reference keys.
- The reference mask is applied by leaving the reference keys outside the subjects' masks out
  of the cache, instead of penalising them by -100 in every attention: a key 100 below the
  others gets a weight of e^-100 ~ 4e-44 of theirs, nothing in float32 or bfloat16; only a
  masked key whose logit beat every allowed one by some 80 would count (a block-mask kernel
  drops such keys the same way). On the published masks that is about 70 % of the reference
  keys, and one-subject panels no longer need a bias at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor
from torch import nn

from engine.anystory.embedder import LORA_RANK

MASKED = -100.0  # the published additive penalty for a disallowed key
KV = tuple[torch.Tensor, torch.Tensor]


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
    transformer.set_attn_processor({  # model.dtype: a 4-bit model's first parameter is packed uint8
        name: AnyStoryAttnProcessor(hidden).to(device=transformer.device, dtype=transformer.dtype)
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
    # the rotary embedding turns every head of a token alike, so it can follow the head mean
    key = rope(norm_k(key.unflatten(-1, (-1, head_dim))).float().mean(dim=2, keepdim=True), rope_image)[:, :, 0]
    logits = torch.bmm(query, key.transpose(1, 2))
    if allow is not None:
        logits = logits.masked_fill(~allow, float("-inf"))
    # argmax over a contiguous last dimension: along the short subject dimension it is ~8x slower
    winner = logits.transpose(1, 2).contiguous().argmax(dim=2)
    maps = torch.zeros_like(logits).scatter_(1, winner[:, None], 1.0)
    return maps if allow is None else maps * allow


@dataclass
class ReferenceCache:
    """The reference keys/values the main attention uses, per attention layer (b, n, heads,
    head_dim): each subject's `counts` keys in subject order; `bias` (b, 1, 1, n) holds
    ref_shift, None when it is 0."""

    kv: list[KV]
    counts: tuple[int, ...]
    bias: Optional[torch.Tensor] = None


def reference_cache(kv: Sequence[KV], ref_mask: torch.Tensor, n_subjects: int, use_mask: bool, ref_shift: float,
                    dtype: torch.dtype) -> ReferenceCache:
    """The cache of the reference stream's keys/values `kv` (batch 1; `ref_mask` (1, n, 1)):
    with `use_mask` only the keys inside the subjects' masks (the published -100 on the others
    leaves them no weight), and ref_shift as a bias when it is not 0."""
    if use_mask:
        keep = ref_mask[0, :, 0] > 0.5
        index = keep.nonzero()[:, 0]
        kv = [(key.index_select(1, index), value.index_select(1, index)) for key, value in kv]
        counts = tuple(keep.reshape(n_subjects, -1).sum(dim=1).tolist())
    else:
        counts = (kv[0][0].shape[1] // n_subjects,) * n_subjects
    bias = None
    if ref_shift != 0:
        bias = torch.full((1, 1, 1, sum(counts)), float(ref_shift), device=ref_mask.device, dtype=dtype)
    return ReferenceCache(list(kv), counts, bias)


@dataclass
class Layout:
    """Token layout of the main attention: queries [text, subject, image]; keys the same plus
    the reference keys, `ref_counts` per subject. `ref_bias` (b, 1, 1, n_ref) holds ref_shift."""

    n_text: int
    n_redux: int
    n_image: int
    ref_counts: tuple[int, ...]
    n_subjects: int
    dtype: torch.dtype
    ref_bias: Optional[torch.Tensor] = None

    def __post_init__(self) -> None:
        self.key_bias = None  # (b, 1, 1, keys): the reference bias behind zeros for the other keys
        if self.ref_bias is not None and self.n_ref:
            zeros = self.ref_bias.new_zeros(*self.ref_bias.shape[:3], self.n_queries)
            self.key_bias = torch.cat([zeros, self.ref_bias], dim=-1)
        self._buffer: Optional[torch.Tensor] = None

    @property
    def n_ref(self) -> int:
        return sum(self.ref_counts)

    @property
    def n_queries(self) -> int:
        return self.n_text + self.n_redux + self.n_image

    @property
    def n_keys(self) -> int:
        return self.n_queries + self.n_ref

    def subject_columns(self) -> list[tuple[int, slice]]:
        """(subject, key columns) of each subject's subject tokens and reference keys."""
        redux = (self.n_redux // self.n_subjects,) * self.n_subjects if self.n_redux else ()
        columns = []
        for start, counts in ((self.n_text, redux), (self.n_queries, self.ref_counts)):
            for j, count in enumerate(counts):
                if count:
                    columns.append((j, slice(start, start + count)))
                start += count
        return columns

    def routed_bias(self, maps: torch.Tensor) -> torch.Tensor:
        """(b, 1, queries, keys) bias keeping each image token off the subject and reference
        tokens of the subjects its 0/1 `maps` (b, subjects, image tokens) do not give it.
        Rows are padded to 8 keys so fused kernels take the bias without a copy. The buffer is
        reused by every layer of the forward: its text rows and the image rows' text and image
        columns never change, so a layer writes only its subjects' columns of the image rows."""
        b, head = maps.shape[0], self.n_text + self.n_redux
        if self._buffer is None:
            padded = -(-self.n_keys // 8) * 8
            self._buffer = torch.zeros(b, 1, self.n_queries, padded, device=maps.device,
                                       dtype=self.dtype)[..., :self.n_keys]
            if self.key_bias is not None:
                self._buffer[:, :, :head] = self.key_bias
        refused = ((1.0 - maps) * MASKED).to(self.dtype).transpose(1, 2)  # b, image tokens, subjects
        rows = self._buffer[:, 0, head:]
        for j, columns in self.subject_columns():
            block = rows[..., columns]
            block.copy_(refused[..., j:j + 1].expand_as(block))
            if self.key_bias is not None and columns.start >= self.n_queries:
                block.add_(self.key_bias[:, 0, :, columns])
        return self._buffer


def main_bias(layout: Layout, maps: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """The bias of the main attention: `layout.key_bias` alone (b, 1, 1, keys), or with routing
    maps (b, 1, queries, keys), keeping each image token off the subject and reference tokens
    of the subjects it is not routed to (-100, as published)."""
    return layout.key_bias if maps is None else layout.routed_bias(maps)
