"""Which diffusers memory mechanisms work with our own forward loop (it calls the transformer's
leaf modules, never its or its blocks' `forward`), the prompt-embedding cache, and VAE tiling.

The offloading tests offload to disk: between calls a module then holds an empty placeholder,
so a hook that does not fire leaves garbage weights and the golden case visibly fails."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.base import PanelRequest
from tests.anystory_helpers import COMPONENTS, GOLDEN, tiny_generator  # noqa: F401 (fixture)

CASE = GOLDEN / "b_two_subjects_router"


def offloaded_replay(tmp_path, **offloading):
    """Replay the two-subject router case with the transformer group-offloaded to disk."""
    from diffusers.hooks import apply_group_offloading

    from engine.anystory import AnyStoryGenerator
    from engine.anystory.replay import replay_with

    ref_size = json.loads((CASE / "case.json").read_text())["ref_size"]
    generator = AnyStoryGenerator.tiny(components=COMPONENTS, ref_size=ref_size)
    apply_group_offloading(generator.components.pipe.transformer, onload_device=torch.device("cpu"),
                           offload_to_disk_path=str(tmp_path / "offload"), **offloading)
    latents = replay_with(generator, CASE, tmp_path / "out")["final_latents"]
    return latents, load_file(CASE / "tensors.safetensors")["final_latents"]


def test_leaf_level_group_offloading_fires_in_our_forward_loop(tmp_path):
    latents, golden = offloaded_replay(tmp_path, offload_type="leaf_level")
    assert any((tmp_path / "offload").iterdir())  # the weights really went to disk
    torch.testing.assert_close(latents, golden, atol=1e-4, rtol=1e-4)


def test_offload_keeps_every_model_group_offloaded_and_the_numbers(tmp_path):
    from diffusers.hooks.group_offloading import _is_group_offload_enabled

    from engine.anystory import AnyStoryGenerator
    from engine.anystory.replay import replay_with

    ref_size = json.loads((CASE / "case.json").read_text())["ref_size"]
    generator = AnyStoryGenerator.tiny(components=COMPONENTS, ref_size=ref_size, offload=True)
    c = generator.components
    assert all(_is_group_offload_enabled(m) for m in (c.pipe.transformer, c.pipe.vae, c.siglip, c.embedders,
                                                       *c.loras.values()))
    assert not _is_group_offload_enabled(c.pipe.text_encoder_2)  # on a CPU the text encoders stay put
    latents = replay_with(generator, CASE, tmp_path)["final_latents"]
    torch.testing.assert_close(latents, load_file(CASE / "tensors.safetensors")["final_latents"], atol=1e-4, rtol=1e-4)


def test_block_level_group_offloading_does_not_fire_in_our_forward_loop(tmp_path):
    latents, golden = offloaded_replay(tmp_path, offload_type="block_level", num_blocks_per_group=1)
    assert not torch.allclose(latents, golden, atol=1e-2, rtol=1e-2)  # blocks' hooks never ran: wrong weights


def test_prompt_embeddings_are_encoded_once_per_prompt(tiny_generator):
    t5 = tiny_generator.components.pipe.text_encoder_2
    calls = []
    handle = t5.register_forward_hook(lambda *_: calls.append(1))
    try:
        request = PanelRequest("a fox at dawn, prompt-cache test", width=64, height=64, steps=2, seed=3)
        first = tiny_generator.render(request).image
        again = tiny_generator.render(request).image  # a re-render: the same picture, T5 not run again
        tiny_generator.render(replace(request, seed=4))  # a variant
        assert len(calls) == 1
        assert np.array_equal(np.asarray(first), np.asarray(again))
        tiny_generator.render(replace(request, prompt="a fox at dusk, prompt-cache test"))
        assert len(calls) == 2
    finally:
        handle.remove()


def test_prompt_cache_keeps_the_most_recently_used():
    from engine.anystory.prompt_cache import PromptCache

    cache, encoded = PromptCache(size=2), []

    def encode(key):
        return lambda: encoded.append(key) or key.upper()

    for key in ("a", "b", "a", "c", "a", "b"):
        assert cache.get(key, encode(key)) == key.upper()
    assert encoded == ["a", "b", "c", "b"] and len(cache) == 2  # "b" left when "c" came, "a" stayed in use


def test_large_panels_decode_tile_by_tile(tiny_generator, monkeypatch):
    from engine.anystory.pipeline import decode

    vae = tiny_generator.components.pipe.vae
    # FLUX.1-dev's VAE tiles (sample_size 1024) instead of the tiny VAE's 256, so few tiles run here
    monkeypatch.setattr(vae, "tile_sample_min_size", 1024)
    monkeypatch.setattr(vae, "tile_latent_min_size", 128)
    calls = []
    handle = vae.decoder.register_forward_hook(lambda *_: calls.append(1))
    g = torch.Generator().manual_seed(0)
    try:
        latents = torch.randn(1, 96 * 16, 16, generator=g)
        with torch.no_grad():
            tiled = tiny_generator.decode(latents, 1536, 256)
            tiles, calls[:] = len(calls), []
            whole = decode(tiny_generator.components.pipe, latents, 1536, 256)
            tiny_generator.decode(torch.randn(1, 95 * 16, 16, generator=g), 1520, 256)
    finally:
        handle.remove()
    assert tiles == 2 and len(calls) == 2  # 1536 px: two overlapping tiles; the untiled and 1520 px: one pass
    assert not vae.use_tiling and not vae.use_slicing  # switched off again after the large panel
    assert tiled.shape == whole.shape == (1536, 256, 3)
    # tiles blend at their seams: measured mean 0.0016, max 0.043 (pixel values 0..1) on these weights
    assert np.abs(tiled - whole).mean() < 0.005 and np.abs(tiled - whole).max() < 0.1
