"""How one stream of tokens passes the layers of a FLUX transformer block.

A FLUX double block has an image side (norm1, to_q/k/v, to_out, ff) and a context side
(norm1_context, add_q/k/v_proj, to_add_out, ff_context); a single block has one set. Text and
image tokens use them as they are; the reference tokens use the image side with the "ref"
LoRA, the router tokens the context side with the "router" LoRA (as published). A `Side`
binds a block's modules to one stream's LoRA once, so the per-step code stays plain.
The math is diffusers' FluxTransformerBlock / FluxSingleTransformerBlock, split at the
attention so that several streams can share one attention call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from engine.anystory.attention import rope
from engine.anystory.lora import StreamLinear, StreamLoRA

_DOUBLE = {  # field -> (image-side module path, context-side module path)
    "norm": ("norm1", "norm1_context"),
    "q": ("attn.to_q", "attn.add_q_proj"),
    "k": ("attn.to_k", "attn.add_k_proj"),
    "v": ("attn.to_v", "attn.add_v_proj"),
    "norm_q": ("attn.norm_q", "attn.norm_added_q"),
    "norm_k": ("attn.norm_k", "attn.norm_added_k"),
    "out": ("attn.to_out.0", "attn.to_add_out"),
    "norm2": ("norm2", "norm2_context"),
    "ff_in": ("ff.net.0", "ff_context.net.0"),
    "ff_out": ("ff.net.2", "ff_context.net.2"),
}
_SINGLE = {"norm": "norm", "q": "attn.to_q", "k": "attn.to_k", "v": "attn.to_v", "norm_q": "attn.norm_q",
           "norm_k": "attn.norm_k", "mlp": "proj_mlp", "out": "proj_out"}
_LINEAR = {"q", "k", "v", "out", "ff_out", "mlp"}


class Side:
    """One stream's view of one block: modules by role, linear ones as a `StreamLinear` with the
    LoRA (on the first `lora_rows` tokens only, when given)."""

    def __init__(self, block: nn.Module, prefix: str, paths: dict[str, str], lora: Optional[StreamLoRA],
                 lora_rows: Optional[int] = None):
        self.double = "norm2" in paths
        self.head_dim = block.attn.head_dim
        for role, path in paths.items():
            module = block.get_submodule(path)
            if role in _LINEAR:
                module = StreamLinear(module, lora.get(prefix + path) if lora else None, lora_rows)
            setattr(self, role, module)
        norm_linear = paths["norm"] + ".linear"
        norm_lora = lora.get(prefix + norm_linear) if lora else None
        self.modulation = StreamLinear(block.get_submodule(norm_linear), norm_lora)
        if not self.double:
            self.act = block.act_mlp


def double_side(block: nn.Module, index: int, context: bool, lora: Optional[StreamLoRA] = None,
                lora_rows: Optional[int] = None) -> Side:
    paths = {role: pair[int(context)] for role, pair in _DOUBLE.items()}
    return Side(block, f"transformer_blocks.{index}.", paths, lora, lora_rows)


def single_side(block: nn.Module, index: int, lora: Optional[StreamLoRA] = None,
                lora_rows: Optional[int] = None) -> Side:
    return Side(block, f"single_transformer_blocks.{index}.", _SINGLE, lora, lora_rows)


@dataclass
class Projected:
    """A stream's state inside a block, between its input norm and its attention output."""

    x: torch.Tensor  # normalised, modulated tokens
    query: torch.Tensor  # (b, s, h, d) after qk-norm (and rotary embedding when given)
    key: torch.Tensor
    value: torch.Tensor
    key_proj: torch.Tensor  # key projection before qk-norm (routing maps reuse it)
    mods: tuple[torch.Tensor, ...]  # remaining modulation: gate/shift/scale as the block needs
    mlp: Optional[torch.Tensor] = None  # single blocks: the parallel MLP branch


def modulate(side: Side, temb_act: torch.Tensor, base: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The adaptive norm's modulation (shifts, scales, gates) of one stream from the activated
    time embedding `temb_act` (SiLU, as every FLUX block's norm applies it). `base`: the base
    layer's output when another stream of the block already computed it; only this stream's
    LoRA update is then added."""
    if base is None:
        return side.modulation(temb_act)
    return base if side.modulation.lora is None else base + side.modulation.lora(temb_act)


def per_row(*parts: tuple[torch.Tensor, int]) -> torch.Tensor:
    """One (b, rows, n) modulation from (b, n) modulations of consecutive runs of rows, given as
    (modulation, row count): for streams that share a sequence but not their modulation."""
    return torch.cat([m[:, None].expand(-1, rows, -1) for m, rows in parts], dim=1)


def _rows(t: torch.Tensor) -> torch.Tensor:
    """A modulation chunk broadcast over the tokens: (b, n) -> (b, 1, n); per-row (b, rows, n) as is."""
    return t[:, None] if t.dim() == 2 else t


def normalize(side: Side, x: torch.Tensor, modulated: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Input norm with the adaptive modulation `modulated` ((b, n), or (b, rows, n) per row, see
    `modulate` and `per_row`): the normalised, modulated tokens and the modulation's chunks
    (shift, scale, then what `finish` uses)."""
    chunks = modulated.chunk(6 if side.double else 3, dim=-1)
    shift, scale = chunks[0], chunks[1]
    return side.norm.norm(x) * (1 + _rows(scale)) + _rows(shift), chunks


def project(side: Side, x: torch.Tensor, modulated: torch.Tensor,
            rotation: Optional[torch.Tensor] = None) -> Projected:
    """`normalize`, then query/key/value with qk-norm and, when `rotation` (attention.turns) is
    given, the rotary embedding."""
    x_n, chunks = normalize(side, x, modulated)
    heads = (-1, side.head_dim)
    key_proj = side.k(x_n)
    query = side.norm_q(side.q(x_n).unflatten(-1, heads))
    key = side.norm_k(key_proj.unflatten(-1, heads))
    if rotation is not None:
        query, key = rope(query, rotation), rope(key, rotation)
    value = side.v(x_n).unflatten(-1, heads)
    mlp = None if side.double else side.act(side.mlp(x_n))
    return Projected(x=x_n, query=query, key=key, value=value, key_proj=key_proj, mods=chunks[2:], mlp=mlp)


def finish(side: Side, x: torch.Tensor, attn_out: torch.Tensor, projected: Projected) -> torch.Tensor:
    """Output projection, gated residual, and (double blocks) the modulated feed-forward.
    Dropout layers are left out: this is inference only."""
    if side.double:
        gate_msa, shift_mlp, scale_mlp, gate_mlp = projected.mods
        x = x + _rows(gate_msa) * side.out(attn_out)
        x_n = side.norm2(x) * (1 + _rows(scale_mlp)) + _rows(shift_mlp)
        x = x + _rows(gate_mlp) * side.ff_out(side.ff_in(x_n))
    else:
        x = x + _rows(projected.mods[0]) * side.out(torch.cat([attn_out, projected.mlp], dim=2))
    if x.dtype == torch.float16:
        x = x.clip(-65504, 65504)
    return x
