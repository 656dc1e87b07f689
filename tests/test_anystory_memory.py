"""Memory profiles: how far each profile that runs on a CPU moves the golden cases (loaded
through the same quantized from_pretrained path as real weights), `full` still equal to the
golden cases, what `auto` picks for a given free memory, and the message when a profile
cannot run."""
from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.base import EngineError
from engine.anystory.memory import DeviceInfo, MemoryChoice, check_profile, choose_auto, resolve_memory
from tests.anystory_helpers import CASES, GOLDEN

ATOL = RTOL = 1e-4  # the golden README's tolerances
IMAGE_ATOL = 1e-3
# Measured on this machine (torch 2.13.0, torchao 0.18.0, CPU float32) over the three golden
# cases, final latents: int8 cosine 0.999993 and max relative error (max |ours - golden| / max
# |golden|) 0.0038-0.0042; fp8 cosine 0.99971 and 0.026-0.027. Bounds: about twice as loose.
BOUNDS = {"int8": (0.99998, 0.008), "fp8": (0.9993, 0.05)}
CPU = DeviceInfo("cpu")


def closeness(ours: torch.Tensor, golden: torch.Tensor) -> tuple[float, float]:
    """(cosine similarity, max |ours - golden| / max |golden|) of two latent tensors."""
    cosine = torch.nn.functional.cosine_similarity(ours.flatten().double(), golden.flatten().double(), dim=0)
    return cosine.item(), ((ours - golden).abs().max() / golden.abs().max()).item()


@pytest.mark.parametrize("case", CASES)
def test_full_profile_equals_the_golden_cases(case, tmp_path):
    from engine.anystory.replay import replay

    produced = replay(GOLDEN / case, tmp_path, memory="full")
    golden = load_file(GOLDEN / case / "tensors.safetensors")
    torch.testing.assert_close(produced["final_latents"], golden["final_latents"], atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(produced["image"].numpy(), golden["image"].numpy(), atol=IMAGE_ATOL, rtol=0)


@pytest.mark.parametrize("profile", sorted(BOUNDS))
@pytest.mark.parametrize("case", CASES)
def test_quantized_profile_stays_close_to_the_golden_case(case, profile, tmp_path):
    from engine.anystory.replay import replay

    produced = replay(GOLDEN / case, tmp_path, memory=profile)["final_latents"]
    golden = load_file(GOLDEN / case / "tensors.safetensors")["final_latents"]
    cosine, relative = closeness(produced, golden)
    min_cosine, max_relative = BOUNDS[profile]
    assert cosine >= min_cosine and relative <= max_relative, (cosine, relative)
    assert (produced - golden).abs().max() > 1e-3  # far above float noise: the weights really were quantized


def test_replay_command_takes_a_memory_profile(tmp_path, capsys):
    from engine.anystory.replay import main

    case = GOLDEN / "b_two_subjects_router"
    assert main([str(case), "--out", str(tmp_path), "--memory", "int8"]) == 0
    written = load_file(tmp_path / "final_latents.safetensors")["final_latents"]
    cosine, relative = closeness(written, load_file(case / "tensors.safetensors")["final_latents"])
    assert cosine >= BOUNDS["int8"][0] and relative <= BOUNDS["int8"][1]
    with pytest.raises(SystemExit) as exit_info:
        main([str(case), "--out", str(tmp_path / "nf4"), "--memory", "nf4"])
    assert exit_info.value.code == 2
    assert "the nf4 memory profile needs a CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "nf4").exists()


def test_quantized_engine_loads_torchao_weights_and_has_its_own_fingerprint():
    from engine.anystory import AnyStoryGenerator

    int8 = AnyStoryGenerator.tiny(memory="int8")
    full, auto = AnyStoryGenerator.tiny(memory="full"), AnyStoryGenerator.tiny(memory="auto")
    weight = int8.components.pipe.transformer.transformer_blocks[0].attn.to_q.weight
    assert type(weight).__name__ == "Int8Tensor"  # quantized by from_pretrained's TorchAoConfig
    assert int8.fingerprint != full.fingerprint  # int8 changes the numbers, so encodings are its own
    assert auto.fingerprint == full.fingerprint  # auto on a CPU is full: the same numbers, the same caches
    assert int8.memory == {"requested": "int8", "profile": "int8", "reason": "int8: chosen by configuration"}
    assert "memory int8" in int8.describe()


def test_offloading_does_not_change_the_numbers():
    nf4 = MemoryChoice("nf4", "nf4", "")
    offloaded = MemoryChoice("nf4-offload", "nf4-offload", "")
    assert offloaded.numbers == nf4.numbers == "nf4" and offloaded.offloaded and not nf4.offloaded
    assert MemoryChoice("full", "full", "").numbers is None


@pytest.mark.parametrize("free, expected", [(80.0, "full"), (41.0, "full"), (40.5, "int8"), (23.0, "int8"),
                                            (22.5, "nf4"), (15.0, "nf4"), (14.5, "nf4-offload"),
                                            (8.5, "nf4-offload")])
def test_auto_picks_the_least_compressed_profile_that_fits(free, expected):
    choice = choose_auto(DeviceInfo("cuda", "NVIDIA L4", (8, 9), free))
    assert choice.profile == expected
    assert choice.reason.startswith(f"auto chose {expected}: {free:.1f} GiB free on NVIDIA L4")


def test_auto_warns_when_even_offloading_may_not_fit():
    choice = choose_auto(DeviceInfo("cuda", "GTX 1070", (6, 1), 6.2))
    assert choice.profile == "nf4-offload"
    assert "only 6.2 GiB free on GTX 1070" in choice.reason and "may run out of memory" in choice.reason


def test_auto_on_a_cpu_is_full_and_says_so_in_the_log(caplog):
    with caplog.at_level(logging.INFO, logger="anystory.memory"):
        choice = resolve_memory("auto", CPU)
    assert choice.profile == "full" and "no GPU memory to save" in choice.reason
    assert "memory profile full (auto chose full" in caplog.text


@pytest.mark.parametrize("profile", ["nf4", "nf4-offload"])
def test_nf4_without_cuda_says_what_to_use_instead(profile):
    with pytest.raises(EngineError, match=f"the {profile} memory profile needs a CUDA GPU.*use --memory int8 or full"):
        check_profile(profile, CPU)


def test_fp8_on_an_older_card_names_the_card_and_the_alternative():
    with pytest.raises(EngineError) as info:
        check_profile("fp8", DeviceInfo("cuda", "NVIDIA GeForce RTX 3090", (8, 6), 23.0))
    assert str(info.value) == ("the fp8 memory profile needs a GPU of compute capability 8.9 or newer (RTX 40xx, L4, "
                               "L40, H100); NVIDIA GeForce RTX 3090 is 8.6: use --memory int8 (the same memory, any card)")
    check_profile("fp8", DeviceInfo("cuda", "NVIDIA H100", (9, 0), 79.0))  # new enough: no error


@pytest.mark.parametrize("profile, package", [("int8", "torchao"), ("fp8", "torchao"), ("nf4", "bitsandbytes")])
def test_a_missing_quantization_library_says_what_to_install(profile, package, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail as if not installed
    pin = {"torchao": "torchao==0.18.0", "bitsandbytes": "bitsandbytes==0.50.2"}[package]
    with pytest.raises(EngineError, match=f"needs {package}, which is not installed: pip install {pin}"):
        check_profile(profile, DeviceInfo("cuda", "NVIDIA L4", (8, 9), 22.0))


def test_unknown_profiles_are_refused_before_anything_loads():
    from engine.registry import EngineConfig, resolve_engine

    with pytest.raises(EngineError, match="unknown memory profile 'int4'; choose one of auto, full, int8, fp8, nf4"):
        resolve_memory("int4", CPU)
    with pytest.raises(EngineError, match="unknown memory profile 'huge'"):
        resolve_engine(EngineConfig(engine="anystory", memory="huge"))
    assert EngineConfig.from_env({"ANYSTORY_MEMORY": "nf4"}).memory == "nf4"


def test_the_engine_refuses_nf4_on_a_cpu_with_the_message():
    from engine.anystory import AnyStoryGenerator

    with pytest.raises(EngineError, match="the nf4 memory profile needs a CUDA GPU"):
        AnyStoryGenerator.tiny(memory="nf4")


def test_render_command_takes_memory_and_says_which_profile_ran(studio, capsys, monkeypatch):
    import json

    from commands import main
    from story import panels, projects
    from tests.draft_helpers import RED
    from tests.queue_helpers import add_pictured_character

    monkeypatch.delenv("ANYSTORY_MEMORY", raising=False)
    project = projects.create_project(studio, "Tiny", render_defaults={"width": 64, "height": 64, "steps": 2})
    add_pictured_character(studio, project.id, "Mia", RED)
    panels.add_panel(studio, project.id, prompt="Mia waves", characters=[("Mia", None)])
    argv = ["render", "Tiny", "--engine", "anystory-tiny", "--data-dir", str(studio.root), "--json"]
    assert main([*argv, "--memory", "int8"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["renders"][0]["status"] == "done"
    assert out["engine"]["memory"] == {"requested": "int8", "profile": "int8", "reason": "int8: chosen by configuration"}
    assert main([*argv, "--all", "--memory", "auto"]) == 0  # on a CPU auto says full, and why
    assert json.loads(capsys.readouterr().out)["engine"]["memory"]["reason"].startswith("auto chose full: the engine")
    assert main([*argv, "--memory", "nf4"]) == 2
    assert capsys.readouterr().err.startswith("error: the nf4 memory profile needs a CUDA GPU")


def nf4_in_place(transformer: torch.nn.Module) -> int:
    """Swap every linear layer of the transformer (not the AnyStory processors', which are added
    after loading) for a bitsandbytes NF4 layer, as diffusers' 4-bit loader does on a GPU;
    returns how many were swapped."""
    import bitsandbytes as bnb

    swapped = 0
    for name, module in list(transformer.named_modules()):
        if not isinstance(module, torch.nn.Linear) or "processor" in name:
            continue
        nf4 = bnb.nn.Linear4bit(module.in_features, module.out_features, bias=module.bias is not None,
                                compute_dtype=torch.float32, quant_type="nf4")
        nf4.weight = bnb.nn.Params4bit(module.weight.data.clone(), requires_grad=False, quant_type="nf4")
        if module.bias is not None:
            nf4.bias = torch.nn.Parameter(module.bias.data.clone(), requires_grad=False)
        parent, _, leaf = name.rpartition(".")
        setattr(transformer.get_submodule(parent), leaf, nf4.to("cpu"))  # .to quantizes
        swapped += 1
    return swapped


def test_nf4_layers_work_in_our_forward_loop(tmp_path):
    """diffusers 0.42.1 loads bitsandbytes models only onto a GPU, but bitsandbytes 0.50.2 itself
    quantizes and multiplies NF4 on the CPU: this checks our loop with NF4 layers. Measured: cosine
    0.99677, max relative error 0.094 (bounds below about twice as loose)."""
    import json

    from engine.anystory import AnyStoryGenerator
    from engine.anystory.replay import replay_with
    from engine.anystory.transformer import StreamTransformer

    case = GOLDEN / "b_two_subjects_router"
    generator = AnyStoryGenerator.tiny(ref_size=json.loads((case / "case.json").read_text())["ref_size"])
    transformer = generator.components.pipe.transformer
    assert nf4_in_place(transformer) == 50
    generator.model = StreamTransformer(transformer, generator.components.loras)
    produced = replay_with(generator, case, tmp_path)["final_latents"]
    cosine, relative = closeness(produced, load_file(case / "tensors.safetensors")["final_latents"])
    assert cosine >= 0.993 and relative <= 0.2, (cosine, relative)
    assert type(transformer.transformer_blocks[0].attn.to_q.weight).__name__ == "Params4bit"
