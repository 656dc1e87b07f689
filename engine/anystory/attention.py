"""AnyStory attention: the processor installed on every FLUX attention (it holds the router's
routing-map projections), the reference keys the main attention uses, and the main attention
with routing and ref_shift.

Deliberate differences from the published code, all for speed, none visible in the output:
- Where the published code adds -100 to a key a query must not attend (the reference
  background, another subject's tokens), we leave that key out of the query's attention: a
  key 100 below the others gets a weight of e^-100 ~ 4e-44 of theirs, nothing in float32 or
  bfloat16; only a masked key whose logit beat every allowed one by some 80 would count (a
  block-mask kernel drops such keys the same way).
- The reference cache keeps only the reference keys inside the subjects' masks (about 30 %
  of them on the published masks).
- Routing never builds a (queries x keys) bias: `routed_attention` runs the router tokens
  over their own and the image keys, the text and subject tokens over every other key, and
  each group of image tokens (engine.anystory.routing) over the text and image keys plus its
  own subjects' keys, unmasked, so fused kernels apply. The only bias left is ref_shift, one
  row (1, 1, 1, keys) shared by all queries and heads, and only when it is not 0.
- The rotary embedding (`rope`) multiplies channel pairs by complex turns: diffusers'
  arithmetic in one kernel instead of five.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor
from torch import nn

from engine.anystory.embedder import LORA_RANK

KV = tuple[torch.Tensor, torch.Tensor]
Columns = Union[None, slice, torch.Tensor]  # key columns: all, a run of them, or an index


class AnyStoryAttnProcessor(FluxAttnProcessor, nn.Module):
    """Where the router's routing weights live: one per FLUX attention, holding that layer's
    routing-map projections (LoRA updates of the router query and the image key).

    Only the weights live here. Its `__call__` is the stock `FluxAttnProcessor`'s, so a plain
    diffusers forward of the transformer still works; AnyStory's own forward
    (engine.anystory.transformer) never calls it: engine.anystory.routing.routing_layer reads
    the factors from here. The processor was kept as their home because the published
    checkpoint names them so (transformer.<block>.attn.processor.to_{q,k}_routing_map_lora_{A,B}).
    """

    def __init__(self, hidden_size: int, rank: int = LORA_RANK):
        nn.Module.__init__(self)
        FluxAttnProcessor.__init__(self)
        self.to_q_routing_map_lora_A = nn.Linear(hidden_size, rank, bias=False)
        self.to_q_routing_map_lora_B = nn.Linear(rank, hidden_size, bias=True)
        self.to_k_routing_map_lora_A = nn.Linear(hidden_size, rank, bias=False)
        self.to_k_routing_map_lora_B = nn.Linear(rank, hidden_size, bias=True)

    __call__ = FluxAttnProcessor.__call__


def install_processors(transformer: nn.Module) -> None:
    """Put an AnyStoryAttnProcessor on every attention of a FluxTransformer2DModel."""
    hidden = transformer.config.num_attention_heads * transformer.config.attention_head_dim
    transformer.set_attn_processor({  # model.dtype: a 4-bit model's first parameter is packed uint8
        name: AnyStoryAttnProcessor(hidden).to(device=transformer.device, dtype=transformer.dtype)
        for name in transformer.attn_processors
    })


def turns(freqs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """FluxPosEmbed's rotary frequencies (cos, sin), (s, d) with each value repeated for its
    pair of channels, as the (s, d/2) complex turns `rope` multiplies by; made once per render."""
    cos, sin = freqs
    return torch.complex(cos[:, 0::2].float(), sin[:, 0::2].float())


def rope(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of (b, s, h, d) tokens by the (s, d/2) complex `rotation` (`turns`):
    each channel pair turned as one complex multiplication. The same products and sums as
    diffusers' `apply_rotary_emb` (x·cos + rotated x·sin, in float32), so the same numbers,
    in one kernel instead of five."""
    pairs = torch.view_as_complex(x.float().contiguous().unflatten(-1, (-1, 2)))
    return torch.view_as_real(pairs * rotation[:, None]).flatten(-2).to(x.dtype)


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
class ReferenceCache:
    """The reference keys/values the main attention uses, per attention layer (b, n, heads,
    head_dim): each subject's `counts` keys in subject order; `shift` is ref_shift, the bias
    the main attention adds to every reference key."""

    kv: list[KV]
    counts: tuple[int, ...]
    shift: float = 0.0


def reference_cache(kv: Sequence[KV], ref_mask: torch.Tensor, n_subjects: int, use_mask: bool,
                    ref_shift: float) -> ReferenceCache:
    """The cache of the reference stream's keys/values `kv` (batch 1; `ref_mask` (1, n, 1)):
    with `use_mask` only the keys inside the subjects' masks (the published -100 on the others
    leaves them no weight)."""
    if use_mask:
        keep = ref_mask[0, :, 0] > 0.5
        index = keep.nonzero()[:, 0]
        kv = [(key.index_select(1, index), value.index_select(1, index)) for key, value in kv]
        counts = tuple(keep.reshape(n_subjects, -1).sum(dim=1).tolist())
    else:
        counts = (kv[0][0].shape[1] // n_subjects,) * n_subjects
    return ReferenceCache(list(kv), counts, float(ref_shift))


@dataclass
class Layout:
    """Token layout of the main attention at one forward's token counts: queries [router tokens,
    text, subject tokens, image] (router tokens only on steps with the router); keys the same
    plus the reference keys, `ref_counts` per subject. For each set of subjects it keeps, once
    per render, the key columns that set may attend and its ref_shift bias."""

    n_text: int
    n_redux: int
    n_image: int
    ref_counts: tuple[int, ...]
    n_subjects: int
    dtype: torch.dtype
    ref_shift: float = 0.0
    n_router: int = 0
    _keys: dict = field(default_factory=dict, repr=False)  # subjects -> (columns or None, bias or None)

    @property
    def n_head(self) -> int:
        """Text and subject-token query rows: they attend every key but the router tokens'."""
        return self.n_text + self.n_redux

    @property
    def n_lead(self) -> int:
        """Query rows before the image tokens (router, text and subject tokens)."""
        return self.n_router + self.n_head

    @property
    def n_queries(self) -> int:
        return self.n_lead + self.n_image

    @property
    def n_keys(self) -> int:
        return self.n_queries + sum(self.ref_counts)

    @property
    def all_subjects(self) -> tuple[int, ...]:
        return tuple(range(self.n_subjects))

    def _subject_slices(self, subjects: tuple[int, ...]) -> tuple[list[slice], list[slice]]:
        """The key columns of `subjects`' subject tokens and of their reference keys."""
        per_redux = self.n_redux // self.n_subjects if self.n_redux else 0
        first = self.n_router + self.n_text
        redux = [slice(first + j * per_redux, first + (j + 1) * per_redux) for j in subjects]
        starts = [self.n_queries + sum(self.ref_counts[:j]) for j in range(len(self.ref_counts))]
        ref = [slice(starts[j], starts[j] + self.ref_counts[j]) for j in subjects if j < len(self.ref_counts)]
        return redux, ref

    def keys_for(self, subjects: tuple[int, ...], device: torch.device) -> tuple[Columns, Optional[torch.Tensor]]:
        """(key columns, bias) of the queries that may attend `subjects`: the text and image
        keys plus those subjects' subject tokens and reference keys. Columns are None for every
        key, a slice when they follow each other (no copy), else an index; the bias (1, 1, 1,
        columns) holds ref_shift on the reference keys, None when 0."""
        if subjects not in self._keys:
            redux, ref = self._subject_slices(subjects)
            n_ref = sum(s.stop - s.start for s in ref)
            text = slice(self.n_router, self.n_router + self.n_text)
            columns = _columns([text, *redux, slice(self.n_lead, self.n_queries), *ref], device)
            if columns == slice(0, self.n_keys):
                columns = None
            width = self.n_keys if columns is None else _width(columns)
            self._keys[subjects] = (columns, self._shift_bias(width, n_ref, device))
        return self._keys[subjects]

    def router_keys(self, device: torch.device) -> Columns:
        """The key columns the router tokens attend: their own and the image tokens' (as published)."""
        if "router" not in self._keys:
            self._keys["router"] = _columns([slice(0, self.n_router), slice(self.n_lead, self.n_queries)], device)
        return self._keys["router"]

    def _shift_bias(self, width: int, n_ref: int, device: torch.device) -> Optional[torch.Tensor]:
        """(1, 1, 1, width) zeros then ref_shift on the last `n_ref` keys; the row is padded to 8
        keys so fused kernels take it without a copy. None without a shift."""
        if self.ref_shift == 0 or n_ref == 0:
            return None
        row = torch.zeros(1, 1, 1, -(-width // 8) * 8, device=device, dtype=self.dtype)[..., :width]
        row[..., width - n_ref:] = self.ref_shift
        return row


def _columns(parts: list[slice], device: torch.device) -> Union[slice, torch.Tensor]:
    """Key columns made of `parts` (in order): one slice when they follow each other."""
    parts = [p for p in parts if p.stop > p.start]
    if all(a.stop == b.start for a, b in zip(parts, parts[1:])):
        return slice(parts[0].start, parts[-1].stop)
    return torch.cat([torch.arange(p.start, p.stop, device=device) for p in parts])


def _width(columns: Union[slice, torch.Tensor]) -> int:
    """How many key columns `columns` names."""
    return columns.stop - columns.start if isinstance(columns, slice) else len(columns)


def routed_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, layout: Layout,
                     groups: Optional[Sequence], image_only: bool = False) -> torch.Tensor:
    """The main attention (b, s, h, d) -> (b, s, h*d), batch 1 when routed. Router-token queries
    attend their own and the image keys; text and subject-token queries every other key; each
    group of image tokens (engine.anystory.routing.TokenGroup) the text and image keys plus only
    its subjects' subject tokens and reference keys. This is the published -100 routing bias
    without building it: a refused key's weight, e^-100 ~ 4e-44 of an allowed one's, is nothing
    in float32 or bfloat16. Without `groups` every image query attends what the text does.
    `image_only`: only the image queries' rows (b, image, h*d)."""
    lead, router = layout.n_lead, layout.n_router
    everything = layout.all_subjects
    if groups is None and not router:
        return attend(query[:, lead:] if image_only else query, key, value, layout.keys_for(everything, key.device)[1])
    first = lead if image_only else 0  # the first query row computed
    out = query.new_empty(query.shape[0], query.shape[1] - first, query.shape[2] * query.shape[3])
    if not image_only:
        if router:
            out[:, :router] = attend(query[:, :router], *_keys(key, value, layout.router_keys(key.device)))
        if layout.n_head:
            columns, bias = layout.keys_for(everything, key.device)
            out[:, router:lead] = attend(query[:, router:lead], *_keys(key, value, columns), bias)
    routed = [(everything, slice(0, layout.n_image))] if groups is None else [(g.subjects, g.tokens) for g in groups]
    for subjects, tokens in routed:
        columns, bias = layout.keys_for(subjects, key.device)
        out[:, _offset(tokens, lead - first)] = attend(query[:, _offset(tokens, lead)], *_keys(key, value, columns),
                                                      bias)
    return out


def _keys(key: torch.Tensor, value: torch.Tensor, columns: Columns) -> KV:
    """The keys and values of `columns` (None: all of them)."""
    return (key, value) if columns is None else (key[:, columns], value[:, columns])


def _offset(tokens: Union[slice, torch.Tensor], by: int) -> Union[slice, torch.Tensor]:
    """Image-token rows (a TokenGroup's `tokens`) as rows of a sequence where the image starts at `by`."""
    return slice(tokens.start + by, tokens.stop + by) if isinstance(tokens, slice) else tokens + by
