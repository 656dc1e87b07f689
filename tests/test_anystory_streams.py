"""Router tokens ride in front of the text through a block's shared layers
(engine.anystory.streams, engine.anystory.lora): one pass over [router, text] with the router
LoRA on the first rows and a per-row modulation must give what two separate passes give, the
router's with its LoRA and modulation, the text's with neither."""
from __future__ import annotations

from functools import partial

import torch

from engine.anystory.lora import StreamLinear
from engine.anystory.streams import double_side, finish, modulate, per_row, project, single_side
from tests.anystory_helpers import tiny_generator  # noqa: F401 (fixture)

N_ROUTER, N_TEXT = 5, 7


def test_a_lora_on_the_first_rows_leaves_the_other_rows_to_the_base_layer(tiny_generator):
    router_lora = tiny_generator.components.loras["router"]
    base = tiny_generator.model.model.context_embedder
    x = torch.randn(1, N_ROUTER + N_TEXT, base.in_features)
    own = StreamLinear(base, router_lora.get("context_embedder"))
    riding = StreamLinear(base, router_lora.get("context_embedder"), rows=N_ROUTER)
    with torch.no_grad():
        out = riding(x)
        torch.testing.assert_close(out[:, :N_ROUTER], own(x[:, :N_ROUTER]), atol=1e-6, rtol=1e-5)
        assert torch.equal(out[:, N_ROUTER:], base(x[:, N_ROUTER:]))


def _separate_and_riding(generator, block_index: int, double: bool):
    """(separate router, separate text, riding) outputs of one block's projection and finish."""
    model = generator.model
    block = model.blocks[block_index]
    lora = generator.components.loras["router"]
    index = block_index if double else block_index - model.n_double
    make = partial(double_side, block, index, True) if double else partial(single_side, block, index)
    text_side, router_side, riding_side = make(), make(lora=lora), make(lora=lora, lora_rows=N_ROUTER)
    g = torch.Generator().manual_seed(block_index)
    width = block.attn.heads * block.attn.head_dim
    router, text = torch.randn(1, N_ROUTER, width, generator=g), torch.randn(1, N_TEXT, width, generator=g)
    temb = torch.randn(1, width, generator=g)
    attended = torch.randn(1, N_ROUTER + N_TEXT, width, generator=g)
    text_mod = modulate(text_side, temb)
    router_mod = modulate(router_side, temb, text_mod)
    outputs = []
    for side, x, mod, out in ((router_side, router, router_mod, attended[:, :N_ROUTER]),
                              (text_side, text, text_mod, attended[:, N_ROUTER:]),
                              (riding_side, torch.cat([router, text], 1),
                               per_row((router_mod, N_ROUTER), (text_mod, N_TEXT)), attended)):
        projected = project(side, x, mod)
        outputs.append((projected, finish(side, x, out, projected)))
    return outputs


def test_riding_in_one_sequence_equals_separate_streams_in_double_and_single_blocks(tiny_generator):
    with torch.no_grad():
        for block_index, double in ((0, True), (tiny_generator.model.n_double, False)):
            (router_p, router_out), (text_p, text_out), (riding_p, riding_out) = _separate_and_riding(
                tiny_generator, block_index, double)
            for field in ("x", "query", "key", "value"):
                riding = getattr(riding_p, field)
                torch.testing.assert_close(riding[:, :N_ROUTER], getattr(router_p, field), atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(riding[:, N_ROUTER:], getattr(text_p, field), atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(riding_out[:, :N_ROUTER], router_out, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(riding_out[:, N_ROUTER:], text_out, atol=1e-5, rtol=1e-5)
