"""The reference cache leaves the keys outside the subjects' masks out instead of biasing them
by -100 (engine.anystory.attention): attention over the kept keys must equal the published
attention over all of them with the published bias; routed attention (image tokens grouped by
subject, each group over its own keys) must equal the published dense -100 routing bias, also
when the subjects keep different numbers of keys."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.anystory.attention import Layout, attend, reference_cache, rope, routed_attention, turns
from engine.anystory.routing import NO_SUBJECT, RoutingLinear, TokenGroup, box_groups, winner_groups, winner_maps

HEADS, HEAD_DIM, PER_SUBJECT = 2, 16, 64
MASKED = -100.0  # the published additive penalty for a key a query must not attend


def _tokens(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(1, n, HEADS, HEAD_DIM, generator=generator) * 3  # logits spread as a trained model's


def _masks(generator: torch.Generator) -> torch.Tensor:
    """(1, 2 * PER_SUBJECT, 1) 0/1 masks, about a third inside, different per subject."""
    return (torch.rand(1, 2 * PER_SUBJECT, 1, generator=generator) < 0.33).float()


def _published_bias(mask: torch.Tensor, n_queries: int, ref_shift: float) -> torch.Tensor:
    """The published (b, 1, 1, keys) bias: 0 on the other keys, ref_shift and -100 outside the mask."""
    ref = ref_shift + (mask[:, :, 0] - 1.0) * -MASKED
    return torch.cat([torch.zeros(1, n_queries), ref], dim=1)[:, None, None]


def test_attention_over_the_kept_reference_keys_equals_the_published_masked_attention():
    g = torch.Generator().manual_seed(0)
    query = _tokens(300, g)
    ref_key, ref_value = _tokens(2 * PER_SUBJECT, g), _tokens(2 * PER_SUBJECT, g)
    mask = _masks(g)
    for ref_shift in (0.0, 1.5):
        cache = reference_cache([(ref_key, ref_value)], mask, 2, use_mask=True, ref_shift=ref_shift)
        assert cache.counts == tuple(int(m.sum()) for m in mask[0, :, 0].reshape(2, -1))
        layout = Layout(n_text=300, n_redux=0, n_image=0, ref_counts=cache.counts, n_subjects=2,
                        dtype=torch.float32, ref_shift=cache.shift)
        key, value = cache.kv[0]
        ours = routed_attention(query, torch.cat([query, key], 1), torch.cat([query, value], 1), layout, None)
        published = attend(query, torch.cat([query, ref_key], 1), torch.cat([query, ref_value], 1),
                           _published_bias(mask, 300, ref_shift))
        torch.testing.assert_close(ours, published, atol=1e-6, rtol=1e-5)


def test_without_the_reference_mask_every_key_stays():
    g = torch.Generator().manual_seed(1)
    ref_key = _tokens(2 * PER_SUBJECT, g)
    cache = reference_cache([(ref_key, ref_key)], _masks(g), 2, use_mask=False, ref_shift=0.0)
    assert cache.counts == (PER_SUBJECT, PER_SUBJECT)
    assert torch.equal(cache.kv[0][0], ref_key)


def _published_routing_bias(layout: Layout, maps: torch.Tensor, ref_shift: float) -> torch.Tensor:
    """The published dense (1, 1, queries, keys) bias, built key by key: -100 where an image
    token is not routed to the subject owning a subject-token or reference key, ref_shift on
    every reference key."""
    per_redux = layout.n_redux // layout.n_subjects
    subject_of_key = [None] * layout.n_text + [j for j in range(layout.n_subjects) for _ in range(per_redux)]
    subject_of_key += [None] * layout.n_image + [j for j, n in enumerate(layout.ref_counts) for _ in range(n)]
    bias = torch.zeros(layout.n_queries, layout.n_keys)
    for k, subject in enumerate(subject_of_key):
        if k >= layout.n_queries:
            bias[:, k] += ref_shift
        if subject is not None:
            bias[layout.n_head:, k] += (1 - maps[0, subject]) * MASKED
    return bias[None, None]


@pytest.mark.parametrize("per_redux", [3, 0])  # with subject tokens, and without (keys then run in slices)
def test_routed_attention_equals_the_published_dense_routing_bias(per_redux):
    g = torch.Generator().manual_seed(2)
    n_text, n_image, counts = 4, 12, (5, 2)
    winner = torch.tensor([0, 0, 1, 1, 0, 1, -1, -1, 1, 0, 0, 1])  # -1: outside every box, nobody's
    boxes = torch.tensor([[[1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1], [0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1]]]).bool()
    for ref_shift in (0.0, 1.5):
        layout = Layout(n_text=n_text, n_redux=2 * per_redux, n_image=n_image, ref_counts=counts, n_subjects=2,
                        dtype=torch.float32, ref_shift=ref_shift)
        query, key, value = _tokens(layout.n_queries, g), _tokens(layout.n_keys, g), _tokens(layout.n_keys, g)
        unanimous, one_box = torch.ones(n_image, dtype=torch.long), boxes.clone()
        one_box[0, 0], one_box[0, 1] = True, False
        for groups, maps in ((winner_groups(winner, 2), winner_maps(winner, 2)), (box_groups(boxes), boxes.float()),
                             (winner_groups(unanimous, 2), winner_maps(unanimous, 2)),
                             (box_groups(one_box), one_box.float())):
            ours = routed_attention(query, key, value, layout, groups)
            published = attend(query, key, value, _published_routing_bias(layout, maps, ref_shift))
            torch.testing.assert_close(ours, published, atol=1e-6, rtol=1e-5)
        unrouted = routed_attention(query, key, value, layout, None)
        published = attend(query, key, value, _published_routing_bias(layout, torch.ones(1, 2, n_image), ref_shift))
        torch.testing.assert_close(unrouted, published, atol=1e-6, rtol=1e-5)


def test_router_rows_in_front_attend_only_their_own_and_the_image_keys():
    """Router tokens ride in front of the text ([router, text, subject tokens, image]): they
    attend their own keys and the image's (as the published separate router attention did), and
    no other query attends theirs."""
    g = torch.Generator().manual_seed(3)
    n_router, n_text, per_redux, n_image, counts = 6, 4, 3, 12, (5, 2)
    winner = torch.tensor([0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1])
    layout = Layout(n_text=n_text, n_redux=2 * per_redux, n_image=n_image, ref_counts=counts, n_subjects=2,
                    dtype=torch.float32, ref_shift=1.5, n_router=n_router)
    query, key, value = _tokens(layout.n_queries, g), _tokens(layout.n_keys, g), _tokens(layout.n_keys, g)
    ours = routed_attention(query, key, value, layout, winner_groups(winner, 2))
    plain = Layout(n_text=n_text, n_redux=2 * per_redux, n_image=n_image, ref_counts=counts, n_subjects=2,
                   dtype=torch.float32, ref_shift=1.5)  # the same without the router rows
    rest = slice(n_router, None)
    bias = _published_routing_bias(plain, winner_maps(winner, 2), 1.5)
    published = attend(query[:, rest], key[:, rest], value[:, rest], bias)
    torch.testing.assert_close(ours[:, rest], published, atol=1e-6, rtol=1e-5)
    router_keys = torch.cat([torch.arange(n_router), torch.arange(plain.n_head + n_router, layout.n_queries)])
    router = attend(query[:, :n_router], key[:, router_keys], value[:, router_keys])
    torch.testing.assert_close(ours[:, :n_router], router, atol=1e-6, rtol=1e-5)
    last = routed_attention(query, key, value, layout, winner_groups(winner, 2), image_only=True)
    torch.testing.assert_close(last, ours[:, layout.n_lead:], atol=1e-6, rtol=1e-5)


def test_rope_by_complex_turns_gives_diffusers_numbers_exactly():
    from diffusers.models.embeddings import apply_rotary_emb
    from diffusers.models.transformers.transformer_flux import FluxPosEmbed

    g = torch.Generator().manual_seed(4)
    ids = torch.randint(0, 64, (50, 3), generator=g).float()
    freqs = FluxPosEmbed(theta=10000, axes_dim=[4, 6, 6])(ids)
    x = _tokens(50, g)
    assert torch.equal(rope(x, turns(freqs)), apply_rotary_emb(x, freqs, sequence_dim=1))
    x16 = x.bfloat16()
    assert torch.equal(rope(x16, turns(freqs)), apply_rotary_emb(x16, freqs, sequence_dim=1))


def test_groups_cover_every_image_token_once_by_its_subjects():
    winner = torch.tensor([1, -1, 0, 1, 1, -1])
    assert [(g.subjects, g.tokens.tolist()) for g in winner_groups(winner, 3)] == [
        ((), [1, 5]), ((0,), [2]), ((1,), [0, 3, 4])]
    boxes = torch.tensor([[[1, 1, 0, 0], [0, 1, 1, 0]]]).bool()
    assert [(g.subjects, g.tokens.tolist()) for g in box_groups(boxes)] == [
        ((), [3]), ((0,), [0]), ((1,), [2]), ((0, 1), [1])]
    assert winner_maps(winner, 3).tolist() == [[[0, 0, 1, 0, 0, 0], [1, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]]]


def test_a_group_holding_every_image_token_is_a_slice_not_an_index():
    """Unanimous routing (common on the first steps) and a single box setting need no gather/scatter."""
    assert winner_groups(torch.full((5,), 2), 3) == [TokenGroup((2,), slice(0, 5))]
    assert winner_groups(torch.full((5,), NO_SUBJECT), 3) == [TokenGroup((), slice(0, 5))]
    assert box_groups(torch.tensor([[[1, 1, 1], [1, 1, 1]]]).bool()) == [TokenGroup((0, 1), slice(0, 3))]


def _factors(width: int, rank: int, seed: int) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
    torch.manual_seed(seed)
    return nn.Linear(width, width), nn.Linear(width, rank, bias=False), nn.Linear(rank, width)


def test_a_routing_projection_merges_its_factors_only_where_that_is_smaller_and_computes_the_same():
    x = torch.randn(1, 40, 32)
    base, down, up = _factors(32, 128, 0)  # the tiny models: merged 32x32 < factors 2x(32x128)
    projection = RoutingLinear(base, down, up, merge=True)
    assert projection.merged is not None
    published = base(x) + up(down(x))
    torch.testing.assert_close(projection(x), published, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(projection(x, base_out=base(x)), published, atol=1e-6, rtol=1e-5)
    wide = RoutingLinear(*_factors(512, 128, 1), merge=True)  # 512x512 > 2x(512x128): kept factored
    assert wide.merged is None
    assert RoutingLinear(base, down, up, merge=False).merged is None  # offloaded weights are not in place
    unmerged = RoutingLinear(base, down, up, merge=False)
    assert torch.equal(unmerged(x), published)
