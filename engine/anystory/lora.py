"""Per-stream LoRA: low-rank updates applied to one stream's tokens only.

The checkpoint carries two LoRAs on the FLUX transformer, "ref" (for the reference-image
tokens) and "router" (for the router tokens). Text and image tokens go through neither.
Instead of wrapping the transformer's layers with peft (every token would then pass the
wrapper, and choosing the adapter per stream means switching module state on every call,
which is what made the published code slow), the factors live beside the base layers and a
stream adds `up(down(x))` to the base output of its own tokens. With lora_alpha = rank (what
diffusers' `load_lora_weights` assumes when the file has no alphas) the scale is 1.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

# Modules each stream's LoRA may target, relative to the transformer, as the published code
# applies them. Entries marked optional are applied when present but are not in the published
# checkpoint, so their absence is not an error.
_SINGLE = ("norm.linear", "proj_mlp", "attn.to_q", "attn.to_k", "attn.to_v", "proj_out")
LORA_TARGETS: dict[str, dict[str, tuple[str, ...]]] = {
    "ref": {
        "top": ("x_embedder",),
        "double": ("norm1.linear", "attn.to_q", "attn.to_k", "attn.to_v", "ff.net.2"),
        "double_optional": ("attn.to_out.0",),
        "single": _SINGLE,
    },
    "router": {
        "top": ("context_embedder",),
        "double": ("norm1_context.linear", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj",
                   "ff_context.net.2"),
        "double_optional": ("attn.to_add_out",),
        "single": _SINGLE,
    },
}


def lora_target_paths(adapter: str, n_double: int, n_single: int) -> tuple[set[str], set[str]]:
    """(required, optional) module paths of `adapter` for a transformer of the given depth."""
    spec = LORA_TARGETS[adapter]
    required = set(spec["top"])
    required |= {f"transformer_blocks.{i}.{m}" for i in range(n_double) for m in spec["double"]}
    required |= {f"single_transformer_blocks.{i}.{m}" for i in range(n_single) for m in spec["single"]}
    optional = {f"transformer_blocks.{i}.{m}" for i in range(n_double) for m in spec["double_optional"]}
    return required, optional


class LoraFactors(nn.Module):
    """The low-rank update `up(down(x))` of one linear layer."""

    def __init__(self, down: torch.Tensor, up: torch.Tensor):
        super().__init__()
        self.down = nn.Linear(down.shape[1], down.shape[0], bias=False)
        self.up = nn.Linear(up.shape[1], up.shape[0], bias=False)
        with torch.no_grad():
            self.down.weight.copy_(down)
            self.up.weight.copy_(up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))


class StreamLoRA(nn.Module):
    """All factors of one adapter, by transformer module path."""

    def __init__(self, factors: dict[str, LoraFactors]):
        super().__init__()
        self.paths = sorted(factors)
        self.factors = nn.ModuleDict({p.replace(".", "/"): f for p, f in factors.items()})

    def get(self, path: str) -> Optional[LoraFactors]:
        return self.factors[path.replace(".", "/")] if path.replace(".", "/") in self.factors else None


class StreamLinear:
    """A linear layer of the transformer as one stream sees it: the base layer, plus that
    stream's LoRA update when it has one. With `rows`, the stream is the first `rows` tokens of
    a longer sequence that shares the base layer (router tokens riding with the text): only
    those rows get the update."""

    __slots__ = ("base", "lora", "rows")

    def __init__(self, base: nn.Linear, lora: Optional[LoraFactors] = None, rows: Optional[int] = None):
        self.base, self.lora, self.rows = base, lora, rows

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.lora is None:
            return y
        if self.rows is None:
            return y + self.lora(x)
        y[:, :self.rows] += self.lora(x[:, :self.rows])
        return y
