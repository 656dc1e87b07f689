"""Where an AnyStory panel's denoising time goes, stage by stage, next to the bare FLUX
forward's own split (tiny golden components, CPU, one thread, 512², 25 steps).

    python bench/anystory_breakdown.py            # 1, 2 and 3 subjects (router on for 2+)
    python bench/anystory_breakdown.py --subjects 2

The engine's stage methods are wrapped with CPU timers for the run (the bench's own
instrumentation; nothing in the engine changes), so the stages can be read against the floor
of bench/anystory_bench.py: what the routing decision, the modulation and the linear layers
(with the router rows' LoRA updates) and the grouped attention each cost per step, and how
that grows from one subject (no router) to two and three. Stages nest (a layer contains its
attention), so the rows do not add up to the total; "rest of layers" is the layers minus the
other stages (norms, rotary embedding, activations, copies). The bare forward's attention
share comes from torch.profiler.
"""
from __future__ import annotations

import argparse
import collections
import functools
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import anystory_bench as bench  # noqa: E402
from engine.anystory import attention, lora, transformer  # noqa: E402
from engine.anystory.generator import AnyStoryGenerator  # noqa: E402
from engine.anystory.params import resolve_params  # noqa: E402
from engine.anystory.pipeline import DenoiseHooks, stack_subjects  # noqa: E402
from engine.base import PanelRequest  # noqa: E402

Totals = collections.Counter


def timed(fn: Callable, label: str, totals: Totals) -> Callable:
    """`fn` adding its CPU time to totals[label] on every call."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[label] += time.process_time() - start
    return wrapper


def instrument(model: transformer.StreamTransformer, totals: Totals) -> None:
    """Time the stages of `model`'s forward: layers, the routed attention (router rows
    included), the routing decision, the per-row modulation of the sequence the router tokens
    ride in, and the LoRA updates of the router rows."""
    cls = transformer.StreamTransformer
    for name, label in (("_double", "layers"), ("_single", "layers"), ("_groups", "routing decision"),
                        ("_modulation", "modulation (router rows: own)")):
        setattr(cls, name, timed(getattr(cls, name), label, totals))
    transformer.routed_attention = timed(attention.routed_attention, "main attention (grouped)", totals)
    lora.StreamLinear.__call__ = timed(lora.StreamLinear.__call__, "linear layers (router rows: + LoRA)", totals)


def floor_split(generator: AnyStoryGenerator, prompt, extra: int, runs: int) -> tuple[float, float]:
    """(whole, attention) seconds of one bare diffusers forward with `extra` conditioning tokens;
    the attention kernels' share from torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    forward = bench.bare_forward(generator, prompt, 512, extra)
    forward()
    start = time.process_time()
    for _ in range(runs):
        forward()
    whole = (time.process_time() - start) / runs
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            forward()
    events = prof.key_averages()
    attention_us = sum(e.self_cpu_time_total for e in events if "scaled_dot_product" in e.key)
    share = attention_us / sum(e.self_cpu_time_total for e in events)
    return whole, whole * share


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    generator = AnyStoryGenerator.tiny()
    encodings = [generator.encode_subject(*p) for p in bench.golden_pictures()]
    prompt = bench.random_prompt(generator, 16)
    totals: Totals = Totals()
    instrument(generator.model, totals)
    request = PanelRequest("", width=512, height=512, steps=25, seed=0)
    with torch.no_grad():
        for n in args.subjects:
            subjects = stack_subjects([generator.subject_tensors(e) for e in encodings[:n]])
            settings = resolve_params({}, n)
            generator.generate(prompt, request, settings, subjects, DenoiseHooks())  # warm-up
            totals.clear()
            start = time.process_time()
            for _ in range(args.repeats):
                generator.generate(prompt, request, settings, subjects, DenoiseHooks())
            per_step = 1000 / (args.repeats * request.steps)
            total = (time.process_time() - start) * per_step
            extra = subjects.redux.shape[1] + (subjects.router.shape[1] if settings.enable_router else 0)
            whole, attn = (s * 1000 for s in floor_split(generator, prompt, extra, 10))
            stages = sum(v for k, v in totals.items() if k != "layers")
            print(f"{n} subject(s), ms per step: denoising {total:.2f}; bare forward {whole:.2f} "
                  f"(attention {attn:.2f}, rest {whole - attn:.2f})")
            for label in sorted(totals):
                print(f"  {label:36s} {totals[label] * per_step:7.2f}")
            print(f"  {'rest of layers':36s} {(totals['layers'] - stages) * per_step:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
