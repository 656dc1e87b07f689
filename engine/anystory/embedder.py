"""The AnyStory subject embedder: FLUX Redux projections with a LoRA, a gate, and pooling.

Two sets of extras share one diffusers `ReduxImageEncoder` (the FLUX.1-Redux-dev weights):
the subject extras pool SigLIP's 27x27 tokens to 9x9 subject tokens, the router extras to 3x3
router tokens. The checkpoint supplies only the extras (parameter names follow the published
checkpoint: redux_up/down_lora_A/B, gate_proj).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LORA_RANK = 128  # as published


class EmbedderExtras(nn.Module):
    """The checkpoint's additions to the Redux embedder for one output size."""

    def __init__(self, redux: nn.Module, output_size: int, lora_rank: int = LORA_RANK):
        super().__init__()
        dim, out = redux.redux_up.in_features, redux.redux_down.out_features
        hidden = redux.redux_up.out_features
        self.redux_up_lora_A = nn.Linear(dim, lora_rank, bias=False)
        self.redux_up_lora_B = nn.Linear(lora_rank, hidden, bias=True)
        self.redux_down_lora_A = nn.Linear(hidden, lora_rank, bias=False)
        self.redux_down_lora_B = nn.Linear(lora_rank, out, bias=True)
        self.gate_proj = nn.Linear(out, 1)
        self.output_size = output_size

    def forward(self, redux: nn.Module, tokens: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """tokens (b, s*s, dim), token_mask (b, s*s, 1) in {0, 1} -> (b, output_size**2, out)."""
        x = redux.redux_up(tokens) + self.redux_up_lora_B(self.redux_up_lora_A(tokens))
        x = F.silu(x)
        x = redux.redux_down(x) + self.redux_down_lora_B(self.redux_down_lora_A(x))
        gate = torch.sigmoid(self.gate_proj(x))
        pooled = self._pool(x * gate)
        # dividing by the pooled gate undoes the gate's average scale (published behaviour)
        pooled_gate = self._pool(gate)
        pooled_mask = (self._pool(token_mask) > 0).to(pooled.dtype)
        return ((pooled / (pooled_gate + 1e-6)) * pooled_mask).flatten(2).transpose(1, 2)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        """(b, s*s, c) tokens -> (b, c, n, n) average-pooled grid."""
        b, length, c = x.shape
        side = int(round(length ** 0.5))
        grid = x.transpose(1, 2).reshape(b, c, side, side)
        return F.adaptive_avg_pool2d(grid, self.output_size)


class SubjectEmbedders(nn.Module):
    """The shared Redux embedder with the subject (9x9) and router (3x3) extras."""

    def __init__(self, redux: nn.Module):
        super().__init__()
        self.redux = redux
        self.subject = EmbedderExtras(redux, output_size=9)
        self.router = EmbedderExtras(redux, output_size=3)

    def forward(self, tokens: torch.Tensor, token_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(subject tokens (b, 81, d), router tokens (b, 9, d))."""
        return self.subject(self.redux, tokens, token_mask), self.router(self.redux, tokens, token_mask)
