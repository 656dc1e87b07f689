"""The reference cache leaves the keys outside the subjects' masks out instead of biasing them
by -100 (engine.anystory.attention): attention over the kept keys must equal the published
attention over all of them with the published bias, and routing must still find each subject's
columns when the subjects keep different numbers of keys."""
from __future__ import annotations

import torch

from engine.anystory.attention import MASKED, Layout, attend, reference_cache

HEADS, HEAD_DIM, PER_SUBJECT = 2, 16, 64


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
        cache = reference_cache([(ref_key, ref_value)], mask, 2, True, ref_shift, torch.float32)
        assert cache.counts == tuple(int(m.sum()) for m in mask[0, :, 0].reshape(2, -1))
        assert (cache.bias is None) == (ref_shift == 0)
        layout = Layout(300, 0, 0, cache.counts, 2, torch.float32, cache.bias)
        key, value = cache.kv[0]
        ours = attend(query, torch.cat([query, key], 1), torch.cat([query, value], 1), layout.key_bias)
        published = attend(query, torch.cat([query, ref_key], 1), torch.cat([query, ref_value], 1),
                           _published_bias(mask, 300, ref_shift))
        torch.testing.assert_close(ours, published, atol=1e-6, rtol=1e-5)


def test_without_the_reference_mask_every_key_stays():
    g = torch.Generator().manual_seed(1)
    ref_key = _tokens(2 * PER_SUBJECT, g)
    cache = reference_cache([(ref_key, ref_key)], _masks(g), 2, False, 0.0, torch.float32)
    assert cache.counts == (PER_SUBJECT, PER_SUBJECT) and cache.bias is None
    assert torch.equal(cache.kv[0][0], ref_key)


def test_routing_bias_refuses_each_subject_its_own_uneven_columns():
    n_text, per_redux, counts = 4, 3, (5, 2)
    layout = Layout(n_text, 2 * per_redux, 6, counts, 2, torch.float32)
    maps = torch.tensor([[[1.0, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0]]])  # last two image tokens: nobody's
    bias = layout.routed_bias(maps)[0, 0]
    subject_of_key = [None] * n_text + [0] * per_redux + [1] * per_redux + [None] * 6 + [0] * 5 + [1] * 2
    for q in range(layout.n_queries):
        image = q - n_text - 2 * per_redux
        for k, subject in enumerate(subject_of_key):
            refused = image >= 0 and subject is not None and maps[0, subject, image] == 0
            assert bias[q, k] == (MASKED if refused else 0.0), (q, k)
