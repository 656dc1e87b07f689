"""Benchmark of the likeness check: the cost of scoring one finished panel (its characters'
regions against their cached reference embeddings, blend flags included) against the cost of
rendering the panel. Targets: < 20 ms per panel on the draft engine, < 5 % of a GPU panel.

    python bench/likeness_bench.py                  # draft 768² (3 characters) and the tiny
                                                    # AnyStory engine on the CPU (one thread)
    python bench/likeness_bench.py --device cuda    # full-size SigLIP so400m and FLUX.1-dev
                                                    # random bf16 weights (skips without CUDA)

Medians over `--runs` after a warm-up; wall time. On a busy shared machine every figure is
inflated, the ratios less so.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.base import PanelRequest, RenderResult, SubjectInput  # noqa: E402
from engine.likeness import DRAFT_EMBEDDER, Embedder, score_render  # noqa: E402


def median_ms(work: Callable[[], object], runs: int, sync: Callable[[], None] = lambda: None) -> float:
    """Median wall milliseconds of `work` over `runs` calls, after one warm-up call."""
    work()
    times = []
    for _ in range(runs):
        sync()
        start = time.perf_counter()
        work()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def report(label: str, render_ms: float, score_ms: float) -> None:
    print(f"{label}: panel {render_ms:.1f} ms, likeness {score_ms:.2f} ms/panel "
          f"({score_ms / render_ms:.1%} of the panel)")


def scoring(embedder: Embedder, result: RenderResult, request: PanelRequest, pictures: list) -> Callable[[], object]:
    """Scoring one panel with the references embedded once (as story/likeness.py caches them)."""
    references = embedder.embed(pictures)
    return lambda: score_render(embedder, result, request, references)


def bench_draft(runs: int) -> None:
    from engine.draft import DraftGenerator
    from tests.draft_helpers import BLUE, RED, YELLOW, figure, three_character_request

    generator = DraftGenerator()
    request = three_character_request(generator, return_routing_maps=True)
    result = generator.render(request)
    render_ms = median_ms(lambda: generator.render(request), runs)
    score_ms = median_ms(scoring(DRAFT_EMBEDDER, result, request, [figure(c) for c in (RED, BLUE, YELLOW)]), runs)
    report("draft 768x768, 3 characters", render_ms, score_ms)


def bench_tiny(runs: int, size: int, steps: int) -> None:
    import torch

    from bench.anystory_bench import golden_pictures
    from engine.anystory import AnyStoryGenerator
    from engine.anystory.likeness import siglip_embedder

    torch.set_num_threads(1)
    generator = AnyStoryGenerator.tiny()
    pictures = golden_pictures()[1:3]
    subjects = [SubjectInput(f"s{i}", generator.encode_subject(*p)) for i, p in enumerate(pictures)]
    request = PanelRequest("two friends", subjects, width=size, height=size, steps=steps, return_routing_maps=True)
    result = generator.render(request)
    render_ms = median_ms(lambda: generator.render(request), max(1, runs // 10))
    score_ms = median_ms(scoring(siglip_embedder(generator), result, request, pictures), runs)
    report(f"tiny AnyStory on the CPU (1 thread) {size}x{size}, {steps} steps, 2 characters", render_ms, score_ms)


def bench_cuda(runs: int, size: int, steps: int) -> None:
    import torch

    from bench.anystory_bench import (FLUX_DEV, FLUX_VAE, SIGLIP_SO400M, bench_panel, golden_pictures,
                                      synthetic_generator)
    from engine.anystory.likeness import siglip_embedder
    from engine.anystory.pipeline import Prompt

    generator = synthetic_generator(FLUX_DEV, FLUX_VAE, SIGLIP_SO400M, "cuda", torch.bfloat16, 128, 512)
    pictures = golden_pictures()[1:3]
    encodings = [generator.encode_subject(*p) for p in pictures]
    prompt = Prompt(torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16),
                    torch.randn(1, 768, device="cuda", dtype=torch.bfloat16),
                    torch.zeros(512, 3, device="cuda", dtype=torch.bfloat16))
    panel = bench_panel(generator, prompt, encodings, size, steps, 1, with_maps=True)
    render_ms = (panel["denoise_s"] + panel["decode_s"]) * 1e3
    rng = np.random.default_rng(0)
    from PIL import Image

    image = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    maps = [np.zeros((size, size), np.float32) for _ in pictures]
    maps[0][:, : size // 2], maps[1][:, size // 2:] = 1.0, 1.0
    request = PanelRequest("", [SubjectInput(f"s{i}", e) for i, e in enumerate(encodings)], width=size, height=size)
    score_ms = median_ms(scoring(siglip_embedder(generator), RenderResult(image, maps), request, pictures), runs,
                         torch.cuda.synchronize)
    report(f"AnyStory full size on {torch.cuda.get_device_name()} {size}x{size}, {steps} steps, 2 characters",
           render_ms, score_ms)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", type=int, help="AnyStory panel size (default 512 on cpu, 1024 on cuda)")
    parser.add_argument("--steps", type=int, default=25)
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device here: skipping the full-size likeness benchmark (GPU share unmeasured)")
            return 0
        bench_cuda(args.runs, args.size or 1024, args.steps)
        return 0
    bench_draft(args.runs)
    bench_tiny(args.runs, args.size or 512, args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
