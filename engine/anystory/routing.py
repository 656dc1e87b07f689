"""Routing: which subject's keys each image token may attend.

A panel's image tokens fall into groups by the set of subjects they are routed to. With the
router on, every layer picks one subject per token (or none, outside all boxes) from the
router's routing-map logits; with the router off, character boxes alone say which subjects a
token may attend (a fixed grouping for the whole render). Routing never builds a (subjects x
tokens) float map, let alone a (queries x keys) bias:
engine.anystory.attention.routed_attention runs each group over its own keys. The 0/1 maps
exist only when a render asks for them (`winner_maps`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch import nn

from engine.anystory.attention import AnyStoryAttnProcessor, rope

NO_SUBJECT = -1


Tokens = Union[torch.Tensor, slice]


@dataclass(frozen=True)
class TokenGroup:
    """Image tokens that attend the same subjects' keys: indices into the image tokens, or
    `slice(0, n)` when the group holds every image token (no gather or scatter needed)."""

    subjects: tuple[int, ...]
    tokens: Tokens


def _grouped(codes: torch.Tensor, values: list[int], counts: list[int]) -> list[Tokens]:
    """The tokens of each present code (`values`, with their `counts`), in increasing order:
    one slice when a single code holds them all."""
    if len(values) == 1:
        return [slice(0, counts[0])]
    return list(torch.argsort(codes, stable=True).split(counts))


def box_groups(allow: torch.Tensor) -> list[TokenGroup]:
    """Image tokens grouped by the set of subjects the (1, subjects, tokens) bool boxes let them
    attend; one group per set present, tokens in increasing order within a group."""
    n_subjects = allow.shape[1]
    bits = 1 << torch.arange(n_subjects, device=allow.device)
    codes = (allow[0].long() * bits[:, None]).sum(dim=0)
    values, counts = (v.tolist() for v in torch.unique(codes, return_counts=True))
    return [TokenGroup(tuple(j for j in range(n_subjects) if value >> j & 1), tokens)
            for value, tokens in zip(values, _grouped(codes, values, counts))]


def winner_groups(winner: torch.Tensor, n_subjects: int) -> list[TokenGroup]:
    """Image tokens grouped by their (tokens,) winning subject (NO_SUBJECT: none), as `box_groups`."""
    counts = torch.bincount(winner + 1, minlength=n_subjects + 1).tolist()
    codes = [code for code, count in enumerate(counts) if count]  # code = subject + 1
    return [TokenGroup(() if code == 0 else (code - 1,), tokens)
            for code, tokens in zip(codes, _grouped(winner, codes, [counts[c] for c in codes]))]


def winner_maps(winner: torch.Tensor, n_subjects: int) -> torch.Tensor:
    """(1, subjects, tokens) 0/1 float maps of a (tokens,) winning subject per token, for a render
    that returns its routing maps."""
    return (winner[None] == torch.arange(n_subjects, device=winner.device)[:, None]).float()[None]


class RoutingLinear:
    """One routing-map projection of a layer: a base linear layer of the transformer plus the
    layer processor's routing-map LoRA (`down`, `up`; engine.anystory.attention), as published:
    base(x) + up(down(x)). Where the merged matrix W + up·down is no larger than the two factors
    (a rank at least half the width: the tiny test models, rank 128 on width 32) it costs no
    more memory and less arithmetic, so `merge` computes it once and uses it; quantized or
    offloaded weights are never merged."""

    def __init__(self, base: nn.Linear, down: nn.Linear, up: nn.Linear, merge: bool):
        self.base, self.down, self.up = base, down, up
        self.merged: Optional[nn.Linear] = None
        rank = down.out_features
        if merge and base.in_features * base.out_features <= rank * (base.in_features + base.out_features) \
                and all(_plain(m) for m in (base, down, up)):
            self.merged = _merge(base, down, up)

    def __call__(self, x: torch.Tensor, base_out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The projection of `x`; `base_out`: base(x) when the caller already has it."""
        if self.merged is not None:
            return self.merged(x)
        return (self.base(x) if base_out is None else base_out) + self.up(self.down(x))


def _plain(layer: nn.Module) -> bool:
    """A stock nn.Linear with ordinary float weights (not quantized by bitsandbytes or torchao)."""
    return type(layer) is nn.Linear and type(layer.weight.data) is torch.Tensor and layer.weight.is_floating_point()


def _merge(base: nn.Linear, down: nn.Linear, up: nn.Linear) -> nn.Linear:
    """One linear layer computing base(x) + up(down(x)), summed in float64."""
    weight = base.weight.double() + up.weight.double() @ down.weight.double()
    bias = sum((b.double() for b in (base.bias, up.bias) if b is not None),
               torch.zeros(base.out_features, dtype=torch.float64, device=base.weight.device))
    merged = nn.Linear(base.in_features, base.out_features, device=base.weight.device, dtype=base.weight.dtype)
    with torch.no_grad():
        merged.weight.copy_(weight)
        merged.bias.copy_(bias)
    return merged


@dataclass(frozen=True)
class RoutingLayer:
    """What one layer's routing decision uses besides its inputs: the router query and image
    key projections (`RoutingLinear`), the query/key norms and head size."""

    query: RoutingLinear
    key: RoutingLinear
    norm_q: nn.Module
    norm_k: nn.Module
    head_dim: int


def routing_layer(processor: AnyStoryAttnProcessor, query_base: nn.Linear, key_base: nn.Linear, norm_q: nn.Module,
                  norm_k: nn.Module, head_dim: int, merge: bool) -> RoutingLayer:
    """A layer's RoutingLayer: `query_base`/`key_base` are the base projections of the router
    tokens' and the image tokens' sides; the routing-map LoRAs live on `processor`."""
    p = processor
    return RoutingLayer(query=RoutingLinear(query_base, p.to_q_routing_map_lora_A, p.to_q_routing_map_lora_B, merge),
                        key=RoutingLinear(key_base, p.to_k_routing_map_lora_A, p.to_k_routing_map_lora_B, merge),
                        norm_q=norm_q, norm_k=norm_k, head_dim=head_dim)


def route_tokens(layer: RoutingLayer, router_x: torch.Tensor, image_x: torch.Tensor, image_key: torch.Tensor,
                 rope_image: torch.Tensor, n_subjects: int, refused: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(tokens,) winning subject per image token (batch 1): the subject whose head- and
    token-averaged router query gives the largest logit (float32). `router_x`/`image_x`: the
    normalised router and image tokens; `image_key`: the image tokens' base key projection;
    `rope_image`: their rotary turns (engine.anystory.attention.turns). With `refused`
    (tokens, subjects) bool, where character boxes keep subjects out, a subject only competes
    where allowed, and a token no subject may take goes to none of them (NO_SUBJECT)."""
    query = layer.norm_q(layer.query(router_x).unflatten(-1, (-1, layer.head_dim)))  # position 0: no rotary turn
    query = query.float().unflatten(1, (n_subjects, -1)).mean(dim=(2, 3))  # b, subjects, d
    key = layer.key(image_x, base_out=image_key)
    # the rotary embedding turns every head of a token alike, so it can follow the head mean
    key = layer.norm_k(key.unflatten(-1, (-1, layer.head_dim))).float().mean(dim=2, keepdim=True)
    key = rope(key, rope_image)[:, :, 0]
    logits = torch.bmm(key, query.transpose(1, 2))[0]  # tokens, subjects: argmax along the contiguous dim
    if refused is None:
        return logits.argmax(dim=1)
    winner = logits.masked_fill(refused, float("-inf")).argmax(dim=1)
    return torch.where(refused.gather(1, winner[:, None])[:, 0], NO_SUBJECT, winner)
