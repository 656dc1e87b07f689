"""Strict loading of the AnyStory checkpoint: every golden tensor lands; missing, extra and
mis-shaped keys fail with a message naming them."""
from __future__ import annotations

import pytest
import torch

from engine.base import EngineError
from tests.anystory_helpers import COMPONENTS

CHECKPOINT = COMPONENTS / "anystory_flux.bin"


@pytest.fixture()
def targets():
    from diffusers import FluxTransformer2DModel
    from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder

    from engine.anystory.attention import install_processors
    from engine.anystory.embedder import SubjectEmbedders

    transformer = FluxTransformer2DModel.from_pretrained(COMPONENTS / "flux", subfolder="transformer")
    install_processors(transformer)
    embedders = SubjectEmbedders(ReduxImageEncoder.from_pretrained(COMPONENTS / "redux", subfolder="image_embedder"))
    return transformer, embedders


@pytest.fixture()
def state():
    return torch.load(CHECKPOINT, map_location="cpu", weights_only=True)


def load(state, targets):
    from engine.anystory.checkpoint import load_checkpoint

    return load_checkpoint(state, *targets, source="test.bin")


def refusal(state, targets, match=None) -> str:
    """The message of the EngineError that loading the edited checkpoint raises."""
    with pytest.raises(EngineError, match=match) as info:
        load(state, targets)
    return str(info.value)


def test_every_golden_tensor_lands(state, targets):
    loras = load(state, targets)
    transformer, embedders = targets
    assert len(loras["ref"].paths) == len(state["ref"]) // 2
    assert len(loras["router"].paths) == sum(k.endswith(".lora_A.weight") for k in state["router"])
    torch.testing.assert_close(embedders.subject.gate_proj.weight, state["redux"]["gate_proj.weight"])
    key = "transformer.single_transformer_blocks.1.attn.processor.to_k_routing_map_lora_B.bias"
    processor = transformer.single_transformer_blocks[1].attn.processor
    torch.testing.assert_close(processor.to_k_routing_map_lora_B.bias, state["router"][key])
    ref_up = loras["ref"].get("transformer_blocks.0.attn.to_q").up.weight
    torch.testing.assert_close(ref_up, state["ref"]["transformer.transformer_blocks.0.attn.to_q.lora_B.weight"])


@pytest.mark.parametrize("part, key", [
    ("ref", "transformer.single_transformer_blocks.1.proj_out.lora_B.weight"),
    ("redux", "gate_proj.bias"),
    ("router", "router_embedder.redux_down_lora_A.weight"),
    ("router", "transformer.transformer_blocks.1.attn.processor.to_q_routing_map_lora_A.weight"),
    ("router", "transformer.transformer_blocks.0.ff_context.net.2.lora_A.weight"),
])
def test_a_missing_key_is_named(state, targets, part, key):
    del state[part][key]
    assert key in refusal(state, targets, "missing keys")


@pytest.mark.parametrize("part, key", [
    ("ref", "transformer.transformer_blocks.0.ff.net.0.proj.lora_A.weight"),  # a module the stream never uses
    ("ref", "transformer.no_such_block.lora_A.weight"),
    ("redux", "redux_up.weight"),
    ("router", "transformer.transformer_blocks.7.attn.processor.to_q_routing_map_lora_A.weight"),
])
def test_an_extra_key_is_named(state, targets, part, key):
    state[part][key] = torch.zeros(4, 32)
    assert key in refusal(state, targets, "unexpected keys")


@pytest.mark.parametrize("part, key", [
    ("ref", "transformer.transformer_blocks.0.attn.to_q.lora_A.weight"),
    ("redux", "redux_up_lora_B.weight"),
    ("router", "transformer.single_transformer_blocks.0.attn.processor.to_k_routing_map_lora_B.weight"),
])
def test_a_misshaped_key_is_named(state, targets, part, key):
    state[part][key] = torch.zeros(3, 3)
    message = refusal(state, targets, "wrong shape")
    assert key in message and "(3, 3)" in message


def test_all_problems_are_reported_together(state, targets):
    del state["ref"]["transformer.x_embedder.lora_A.weight"]
    state["redux"]["bogus.weight"] = torch.zeros(1)
    message = refusal(state, targets)
    assert "ref/transformer.x_embedder.lora_A.weight" in message and "redux/bogus.weight" in message


def test_a_file_without_the_three_parts_is_refused(tmp_path, state):
    from engine.anystory.checkpoint import read_checkpoint

    path = tmp_path / "partial.bin"
    torch.save({"ref": state["ref"], "redux": state["redux"]}, path)
    with pytest.raises(EngineError, match="ref, redux, router"):
        read_checkpoint(path)
    with pytest.raises(EngineError, match="not found"):
        read_checkpoint(tmp_path / "absent.bin")
