"""The Settings tab's memory control, in-process: choosing a profile reloads the running
AnyStory engine with it (here the tiny engine on the CPU), a profile that cannot run says why,
and the draft engine only keeps the choice."""
from __future__ import annotations

import time

import gradio as gr
import pytest

from app.context import AppContext
from app.settings_memory import apply_profile, memory_status
from app.settings_tab import status_text
from commands.serve import restart_worker
from engine.registry import EngineConfig


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the engine did not (re)load in time"
        time.sleep(0.1)


@pytest.fixture
def tiny_app(studio):
    ctx = AppContext(studio, EngineConfig(engine="anystory-tiny", memory="auto"))
    ctx.restart_engine = lambda: restart_worker(ctx)
    ctx.restart_engine()
    wait_for(lambda: ctx.worker is not None or ctx.worker_error)
    yield ctx
    if ctx.worker is not None:
        ctx.worker.stop(timeout=30)


def test_choosing_a_profile_reloads_the_engine_with_it(tiny_app):
    status = gr.Markdown()
    assert "`full`: auto chose full: the engine runs on cpu" in memory_status(tiny_app)
    assert "**Memory profile:** `full`" in status_text(tiny_app)
    before = tiny_app.worker
    reply = apply_profile(tiny_app, "int8", status)
    assert "the engine is reloading with it" in reply[status]
    wait_for(lambda: tiny_app.worker is not None and tiny_app.worker is not before)
    assert tiny_app.worker.generator.memory["profile"] == "int8"
    assert memory_status(tiny_app) == "**Memory profile:** `int8`: int8: chosen by configuration"


def test_a_profile_that_cannot_run_says_why(tiny_app):
    status = gr.Markdown()
    apply_profile(tiny_app, "nf4", status)
    wait_for(lambda: tiny_app.worker_error is not None)
    assert "the nf4 memory profile needs a CUDA GPU" in memory_status(tiny_app)
    assert apply_profile(tiny_app, "int4", status)[status].startswith("Unknown memory profile 'int4'; choose one of")


def test_the_draft_engine_keeps_the_choice_without_reloading(studio):
    ctx = AppContext(studio, EngineConfig(engine="draft"))
    ctx.restart_engine = lambda: pytest.fail("the draft engine has nothing to reload")
    status = gr.Markdown()
    reply = apply_profile(ctx, "nf4-offload", status)
    assert ctx.engine_config.memory == "nf4-offload"
    assert reply[status] == ("**Memory profile:** `nf4-offload` (used when the AnyStory engine runs; "
                             "the draft engine needs no GPU)")
