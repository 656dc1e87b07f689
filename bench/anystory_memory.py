"""Benchmark of the AnyStory memory profiles: peak GPU memory and seconds per panel.

    python bench/anystory_memory.py --device cuda     # full-size modules; skips without CUDA

Builds FLUX.1-dev (transformer, VAE, CLIP-L, T5-XXL), FLUX.1-Redux-dev (SigLIP, embedder) and an
AnyStory checkpoint at full size with random weights (speed and memory do not depend on the
values), writes them in the hub's folder layout, and loads them per profile through the engine's
own loader (`load_real`: the same `from_pretrained(..., quantization_config=...)` and offloading
as real weights). Per profile it renders 512² and 1024² panels with 1 subject and with 2 subjects
+ router, each with a new prompt so the text encoders run: peak GiB is
`torch.cuda.max_memory_allocated` over the whole render (text encoders included), seconds are
wall time per panel, ratios are against `full`. Results go to bench/results/anystory_memory.json.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.anystory_bench import (FLUX_DEV, FLUX_SCHEDULER, FLUX_VAE, SIGLIP_SO400M, golden_pictures,  # noqa: E402
                                  random_checkpoint)
from engine.base import EngineError  # noqa: E402
from engine.anystory.memory import PROFILES, TARGET_GIB  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "anystory_memory.json"
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              max_position_embeddings=77, projection_dim=768)
T5_XXL = dict(d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64, vocab_size=32128,
              feed_forward_proj="gated-gelu")
FULL_SIZE = {"transformer": FLUX_DEV, "vae": FLUX_VAE, "siglip": SIGLIP_SO400M, "clip": CLIP_L, "t5": T5_XXL,
             "lora_rank": 128}


def write_random_weights(root: Path, sizes: dict[str, Any], device: str, dtype: torch.dtype) -> dict[str, str]:
    """FLUX.1-dev / FLUX.1-Redux-dev folders and anystory_flux.bin with random weights under
    `root`; returns the --flux, --redux and --anystory sources."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder
    from transformers import (CLIPTextConfig, CLIPTextModel, SiglipVisionConfig, SiglipVisionModel, T5Config,
                              T5EncoderModel)

    from engine.anystory.tiny_text import tiny_text_components

    text = tiny_text_components(32, 32)  # only its byte-level tokenizers are used
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # made in bf16 directly: FLUX.1-dev in float32 alone would take 48 GB
    try:
        with torch.device(device):
            transformer = FluxTransformer2DModel(**sizes["transformer"])
            pipe = FluxPipeline(
                FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER), AutoencoderKL(**sizes["vae"]),
                CLIPTextModel(CLIPTextConfig(vocab_size=len(text["tokenizer"]), **_token_ids(text["tokenizer"]),
                                             **sizes["clip"])),
                text["tokenizer"], T5EncoderModel(T5Config(**sizes["t5"])), text["tokenizer_2"], transformer)
            siglip = SiglipVisionModel(SiglipVisionConfig(**sizes["siglip"]))
            redux = ReduxImageEncoder(redux_dim=sizes["siglip"]["hidden_size"],
                                      txt_in_features=sizes["transformer"]["joint_attention_dim"])
    finally:
        torch.set_default_dtype(default)
    pipe.save_pretrained(root / "flux")
    siglip.save_pretrained(root / "redux" / "image_encoder")
    redux.save_pretrained(root / "redux" / "image_embedder")
    torch.save(random_checkpoint(transformer, redux, sizes["lora_rank"]), root / "anystory_flux.bin")
    return {"flux": str(root / "flux"), "redux": str(root / "redux"), "anystory": str(root / "anystory_flux.bin")}


def _token_ids(tokenizer) -> dict[str, int]:
    return {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id}


def _peak_gib(device: torch.device) -> Optional[float]:
    return torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else None


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_profile(sources: dict[str, str], profile: str, device: str, sizes: list[int], steps: int,
                  ref_size: int) -> list[dict[str, Any]]:
    """Load the engine with `profile` and time one panel per (size, 1 subject / 2 + router)."""
    from engine.base import PanelRequest, SubjectInput
    from engine.anystory.generator import AnyStoryGenerator
    from engine.registry import EngineConfig

    config = EngineConfig(engine="anystory", device=device, dtype="bfloat16", memory=profile, **sources)
    generator = AnyStoryGenerator.from_config(config, ref_size=ref_size)
    dev = generator.components.device
    subjects = [SubjectInput(f"s{i}", generator.encode_subject(*p)) for i, p in enumerate(golden_pictures()[:2])]
    generator.render(PanelRequest("warm-up", subjects, width=sizes[0], height=sizes[0], steps=1))
    rows = []
    for size in sizes:
        for n in (1, 2):
            request = PanelRequest(f"{profile} {size} {n}: a fox and a girl", subjects[:n], width=size, height=size,
                                   steps=steps)
            _synchronize(dev)
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            start = time.perf_counter()
            generator.render(request)
            _synchronize(dev)
            rows.append({"profile": profile, "size": size, "subjects": n, "router": n > 1,
                         "seconds": time.perf_counter() - start, "peak_gib": _peak_gib(dev)})
    del generator
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def add_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's time and peak as a ratio to the `full` row of the same size and subjects."""
    full = {(r["size"], r["subjects"]): r for r in rows if r["profile"] == "full"}
    for r in rows:
        base = full.get((r["size"], r["subjects"]))
        r["time_ratio"] = r["seconds"] / base["seconds"] if base else None
        r["peak_ratio"] = r["peak_gib"] / base["peak_gib"] if base and base["peak_gib"] and r["peak_gib"] else None
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    def fmt(value: Optional[float], spec: str) -> str:
        return f"{'-' if value is None else format(value, spec):>{spec[1:].split('.')[0]}}"

    print(f"{'profile':<12} {'size':>5} {'subj':>4} {'s/panel':>8} {'x full':>7} {'peak GiB':>9} {'x full':>7}  "
          f"target (2 subjects, 1024²)")
    for r in rows:
        target = ""
        if r["size"] == 1024 and r["subjects"] == 2 and r["peak_gib"] is not None:
            limit = TARGET_GIB[r["profile"]]
            target = f"<= {limit:g} GiB: {'met' if r['peak_gib'] <= limit else 'MISSED'}"
        print(f"{r['profile']:<12} {r['size']:>5} {r['subjects']:>4} {r['seconds']:>8.2f} "
              f"{fmt(r['time_ratio'], '>7.2f')} {fmt(r['peak_gib'], '>9.2f')} {fmt(r['peak_ratio'], '>7.2f')}  {target}")


def run(sizes_of_modules: dict[str, Any], profiles: list[str], device: str, sizes: list[int], steps: int,
        ref_size: int, workdir: Path) -> list[dict[str, Any]]:
    """Write the random weights once, then benchmark each profile (full first, for the ratios)."""
    sources = write_random_weights(workdir, sizes_of_modules, device, torch.bfloat16)
    rows = []
    for profile in profiles:
        try:
            rows += bench_profile(sources, profile, device, sizes, steps, ref_size)
        except EngineError as exc:  # e.g. fp8 on a card older than compute capability 8.9
            print(f"{profile}: cannot run here: {exc}")
    return add_ratios(rows)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda",))
    parser.add_argument("--profiles", nargs="*", default=list(PROFILES), choices=PROFILES)
    parser.add_argument("--sizes", type=int, nargs="*", default=[512, 1024])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workdir", type=Path, help="folder for the random weights (default: a temporary one)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device here: skipping the memory-profile benchmark (its figures are GPU memory)")
        return 0
    profiles = ["full"] + [p for p in args.profiles if p != "full"]
    print(f"full-size FLUX.1-dev + Redux + AnyStory, random bf16 weights, {torch.cuda.get_device_name()}, "
          f"{args.steps} steps")
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        rows = run(FULL_SIZE, profiles, args.device, args.sizes, args.steps, 512, Path(workdir))
    print_rows(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"device": torch.cuda.get_device_name(), "steps": args.steps, "rows": rows},
                                  indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
