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
from typing import Optional

import torch
from torch import nn

from engine.anystory.attention import AnyStoryAttnProcessor, rope

NO_SUBJECT = -1


@dataclass(frozen=True)
class TokenGroup:
    """Image tokens (indices into the image tokens) that attend the same subjects' keys."""

    subjects: tuple[int, ...]
    tokens: torch.Tensor


def box_groups(allow: torch.Tensor) -> list[TokenGroup]:
    """Image tokens grouped by the set of subjects the (1, subjects, tokens) bool boxes let them
    attend; one group per set present, tokens in increasing order within a group."""
    n_subjects = allow.shape[1]
    bits = 1 << torch.arange(n_subjects, device=allow.device)
    codes = (allow[0].long() * bits[:, None]).sum(dim=0)
    values, counts = torch.unique(codes, return_counts=True)
    order = torch.argsort(codes, stable=True)
    return [TokenGroup(tuple(j for j in range(n_subjects) if value >> j & 1), tokens)
            for value, tokens in zip(values.tolist(), order.split(counts.tolist()))]


def winner_groups(winner: torch.Tensor, n_subjects: int) -> list[TokenGroup]:
    """Image tokens grouped by their (tokens,) winning subject (NO_SUBJECT: none), as `box_groups`."""
    counts = torch.bincount(winner + 1, minlength=n_subjects + 1).tolist()
    order = torch.argsort(winner, stable=True)
    subjects = [()] + [(j,) for j in range(n_subjects)]
    return [TokenGroup(s, tokens) for s, tokens, count in zip(subjects, order.split(counts), counts) if count]


def winner_maps(winner: torch.Tensor, n_subjects: int) -> torch.Tensor:
    """(1, subjects, tokens) 0/1 float maps of a (tokens,) winning subject per token, for a render
    that returns its routing maps."""
    return (winner[None] == torch.arange(n_subjects, device=winner.device)[:, None]).float()[None]


@dataclass
class RouterInputs:
    """What one layer needs for its routing decision: normalised router tokens, the router's
    base query projection (without its LoRA), normalised image tokens and their key projection."""

    router_x: torch.Tensor
    router_query: torch.Tensor
    image_x: torch.Tensor
    image_key: torch.Tensor


@dataclass(frozen=True)
class RoutingNorms:
    """The query/key norms, head size and the image tokens' rotary frequencies the routing
    logits use."""

    norm_q: nn.Module
    norm_k: nn.Module
    head_dim: int
    rope_image: tuple


def route_tokens(processor: AnyStoryAttnProcessor, inputs: RouterInputs, norms: RoutingNorms, n_subjects: int,
                 refused: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(tokens,) winning subject per image token (batch 1): the subject whose head- and
    token-averaged router query gives the largest logit (float32). With `refused` (tokens,
    subjects) bool, where character boxes keep subjects out, a subject only competes where
    allowed, and a token no subject may take goes to none of them (NO_SUBJECT)."""
    query = inputs.router_query + processor.query_update(inputs.router_x)
    query = norms.norm_q(query.unflatten(-1, (-1, norms.head_dim)))  # at position 0: no rotary turn
    query = query.float().unflatten(1, (n_subjects, -1)).mean(dim=(2, 3))  # b, subjects, d
    key = inputs.image_key + processor.key_update(inputs.image_x)
    # the rotary embedding turns every head of a token alike, so it can follow the head mean
    key = norms.norm_k(key.unflatten(-1, (-1, norms.head_dim))).float().mean(dim=2, keepdim=True)
    key = rope(key, norms.rope_image)[:, :, 0]
    logits = torch.bmm(key, query.transpose(1, 2))[0]  # tokens, subjects: argmax along the contiguous dim
    if refused is None:
        return logits.argmax(dim=1)
    winner = logits.masked_fill(refused, float("-inf")).argmax(dim=1)
    return torch.where(refused.gather(1, winner[:, None])[:, 0], NO_SUBJECT, winner)
