"""The optional compiled path (ANYSTORY_COMPILE): torch.compile of the per-stream block math.
Here it is traced by dynamo with the "eager" backend, which runs the captured graphs as they
are: that checks the graphs capture the engine's math (the golden case still matches) without
inductor's C++/Triton code generation, which takes minutes on this CPU and is meant for CUDA."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from engine.base import EngineError
from engine.registry import EngineConfig
from tests.anystory_helpers import GOLDEN

CASE = "b_two_subjects_router"  # every stream: subject tokens, reference, router


def test_compiled_block_math_reproduces_the_golden_case(tmp_path):
    from engine.anystory.generator import AnyStoryGenerator
    from engine.anystory.replay import read_case, replay_with

    case, _ = read_case(GOLDEN / CASE)
    generator = AnyStoryGenerator.tiny(components=(GOLDEN / CASE / case["components"]).resolve(),
                                       ref_size=case["ref_size"])
    generator.model.compile(backend="eager")
    torch._dynamo.reset()
    produced = replay_with(generator, GOLDEN / CASE, tmp_path)
    golden = load_file(GOLDEN / CASE / "tensors.safetensors")
    torch.testing.assert_close(produced["step_latents"], golden["step_latents"], atol=1e-4, rtol=1e-4)
    from torch._dynamo.utils import counters
    assert counters["stats"]["unique_graphs"] > 0  # the block math did go through the compiler
    torch._dynamo.reset()


def test_compile_mode_comes_from_the_environment_and_a_bad_one_is_refused_before_loading():
    assert EngineConfig.from_env({}).compile is None
    assert EngineConfig.from_env({"ANYSTORY_COMPILE": "reduce-overhead"}).compile == "reduce-overhead"
    from engine.anystory.generator import AnyStoryGenerator

    config = EngineConfig(engine="anystory", flux="/nonexistent/flux", compile="fastest")
    with pytest.raises(EngineError, match="unknown compile mode 'fastest'; choose one of default, reduce-overhead"):
        AnyStoryGenerator.from_config(config)
