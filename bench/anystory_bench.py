"""Benchmark of the AnyStory engine: panel time against the bare FLUX forward passes, and the
cost of returning routing maps (two subjects, the extra row of each size).

    python bench/anystory_bench.py                 # tiny components on the CPU (0-3 subjects)
    python bench/anystory_bench.py --device cuda   # full-size FLUX.1-dev transformer, random bf16
                                                   # weights, 512² and 1024² (skips without CUDA)
    ... --device cuda --compile reduce-overhead    # the same with the compiled block math

Every run writes its figures as JSON to bench/results/ (or --out), with the published
AnyStory H100 figures of ../shared/perf beside them.

Two floors per panel, from bare diffusers transformer forwards (stock processors, no mask):
- "floor" (/work/shared/perf/README.md's definition, ratio 1): per step one forward with the
  prompt plus the subject and router tokens that step uses appended to the text stream, and
  the reference tokens too on the one step that fills the reference cache.
- "same keys": the floor plus, on every later step that attends to the reference, what
  attending over the cached reference keys (those inside the subjects' masks: the engine
  leaves the others out) as extra keys costs in every attention layer
  (bare attention at the step's shape timed with and without them). The gap between the
  floors is inherent to attending over more keys; what is left above "same keys" is our
  overhead: biases, routing maps, the LoRA streams, copies, Python.
Denoising and floors are timed in turn for `--repeats` rounds (after a warm-up), so that both
see the same machine; an overhead is the median over rounds of denoising time / floor - 1,
the seconds printed are medians. On the CPU the times are this process's CPU time (one
thread): less disturbed by other processes than wall time, though a busy shared machine still
moves them. On CUDA they are wall times. Peak memory: CUDA max allocated during one denoising
and during the bare forwards of the same panel ("floor_peak_gib"), or on the CPU the
process's peak resident set so far (configurations run in increasing size).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.base import PanelRequest  # noqa: E402
from engine.anystory.generator import COMPILE_MODES, AnyStoryGenerator  # noqa: E402
from engine.anystory.params import plan_steps, resolve_params  # noqa: E402
from engine.anystory.pipeline import (DenoiseHooks, Prompt, RoutingAverage, image_ids,  # noqa: E402
                                      initial_latents, stack_subjects)

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "golden" / "anystory_flux_tiny"
GOLDEN_SUBJECTS = [("a_one_subject", 0), ("b_two_subjects_router", 0), ("b_two_subjects_router", 1)]
FLUX_DEV = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
                num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
                axes_dims_rope=(16, 56, 56))
FLUX_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=2, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                use_post_quant_conv=False)
FLUX_SCHEDULER = dict(base_image_seq_len=256, base_shift=0.5, max_image_seq_len=4096, max_shift=1.15, shift=3.0,
                      use_dynamic_shifting=True)
SIGLIP_SO400M = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                     image_size=384, patch_size=14)
# /work/shared/perf/README.md, published AnyStory on one H100 (25 steps): total seconds
PUBLISHED_H100 = {(512, 0): 5.69, (512, 1): 9.43, (512, 2): 14.13, (512, 3): 14.20, (1024, 1): 9.97, (1024, 2): 16.61}
PUBLISHED_H100_BARE = {512: 2.98, 1024: 5.54}  # the bare FLUX pipeline on that H100, total seconds
RESULTS = Path(__file__).resolve().parent / "results"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock(device: torch.device) -> Callable[[], float]:
    """Wall time on CUDA; CPU time of this (single-threaded) process on the CPU."""
    return time.perf_counter if device.type == "cuda" else time.process_time


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    now = clock(device)
    synchronize(device)
    start = now()
    fn()
    synchronize(device)
    return now() - start


def median_time(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    return statistics.median(timed(fn, device) for _ in range(repeats))


def random_prompt(generator: AnyStoryGenerator, tokens: int) -> Prompt:
    c, cfg = generator.components, generator.components.pipe.transformer.config
    g = torch.Generator("cpu").manual_seed(0)
    embeds = torch.randn(1, tokens, cfg.joint_attention_dim, generator=g).to(c.device, c.dtype)
    pooled = torch.randn(1, cfg.pooled_projection_dim, generator=g).to(c.device, c.dtype)
    return Prompt(embeds, pooled, torch.zeros(tokens, 3, device=c.device, dtype=c.dtype))


def bare_forward(generator: AnyStoryGenerator, prompt: Prompt, size: int, extra: int) -> Callable[[], Any]:
    """One stock diffusers forward with `extra` conditioning tokens appended to the text."""
    c = generator.components
    transformer = c.pipe.transformer
    latents = initial_latents(c.pipe, size, size, 0, c.device, c.dtype)
    ids = image_ids(c.pipe, size, size, c.device, c.dtype)
    text = torch.cat([prompt.embeds, prompt.embeds.new_zeros(1, extra, prompt.embeds.shape[2])], dim=1)
    text_ids = torch.zeros(text.shape[1], 3, device=c.device, dtype=c.dtype)
    guidance = torch.tensor([3.5], device=c.device) if transformer.config.guidance_embeds else None
    timestep = torch.tensor([0.5], device=c.device, dtype=c.dtype)

    def run():
        transformer(hidden_states=latents, encoder_hidden_states=text, pooled_projections=prompt.pooled,
                    timestep=timestep, img_ids=ids, txt_ids=text_ids, guidance=guidance)
    return run


def floor_steps(steps: int, settings: dict, subjects) -> list[tuple[int, int]]:
    """Per step of a panel (extra text tokens, extra reference keys) of its floors: the
    reference tokens count as text tokens on the step that fills the cache, as extra keys on
    the later steps that attend to it."""
    count = 0 if subjects is None else subjects.count
    layouts, ref_filled = [], False
    if count:  # the keys the engine's reference cache keeps (engine.anystory.attention.reference_cache)
        attended = int(subjects.ref_mask.sum()) if settings.enable_ref_mask else subjects.ref_tokens.shape[1]
    for plan in plan_steps(steps, settings, count):
        extra = (subjects.redux.shape[1] if plan.redux else 0) + (subjects.router.shape[1] if plan.router else 0)
        keys = 0
        if plan.ref and not ref_filled:
            extra, ref_filled = extra + subjects.ref_tokens.shape[1], True
        elif plan.ref:
            keys = attended
        layouts.append((extra, keys))
    return layouts


class Floors:
    """The two floors of one panel (definitions at the top), timed as a bare panel: the bare
    forward of every step in turn, and every attention layer's bare attention on the steps
    with reference keys, once with and once without those keys."""

    def __init__(self, generator: AnyStoryGenerator, prompt: Prompt, size: int, layouts: list[tuple[int, int]]):
        c, cfg = generator.components, generator.components.pipe.transformer.config
        self.device, self.layouts = c.device, layouts
        self.forwards = {extra: bare_forward(generator, prompt, size, extra) for extra in {e for e, _ in layouts}}
        image = (size // (c.pipe.vae_scale_factor * 2)) ** 2
        g = torch.Generator("cpu").manual_seed(0)

        def tokens(n: int) -> torch.Tensor:
            shape = (1, n, cfg.num_attention_heads, cfg.attention_head_dim)
            return torch.randn(*shape, generator=g).to(c.device, c.dtype)
        self.attention = [(tokens(prompt.embeds.shape[1] + extra + image), tokens(keys))
                          for extra, keys in layouts if keys]
        self.layers = cfg.num_layers + cfg.num_single_layers

    def _attend(self, with_keys: bool) -> None:
        from engine.anystory.attention import attend

        for query, ref in self.attention:
            key = torch.cat([query, ref], dim=1) if with_keys else query
            for _ in range(self.layers):
                attend(query, key, key)

    def forward_all(self) -> None:
        """The bare forwards of every step of the panel."""
        for extra, _ in self.layouts:
            self.forwards[extra]()

    def measure(self) -> tuple[float, float]:
        """(floor, same-keys floor) in seconds, one timing each."""
        floor = timed(self.forward_all, self.device)
        keys = timed(lambda: self._attend(True), self.device) - timed(lambda: self._attend(False), self.device)
        return floor, floor + max(keys, 0.0)


def peak_memory_gib(fn: Callable[[], Any], device: torch.device) -> float:
    """Peak memory while `fn` runs: CUDA max allocated, or on the CPU the process's peak
    resident set so far (it only grows)."""
    if device.type != "cuda":
        fn()
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB on Linux
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2 ** 30


def bench_panel(generator: AnyStoryGenerator, prompt: Prompt, encodings: list, size: int, steps: int,
                repeats: int, with_maps: bool = False) -> dict[str, Any]:
    """Time one panel configuration: denoising (with per-step times), decode, the floor;
    `with_maps` also collects the routing maps a render returns on request."""
    c = generator.components
    subjects = stack_subjects([generator.subject_tensors(e) for e in encodings])
    settings = resolve_params({}, len(encodings))
    request = PanelRequest("", width=size, height=size, steps=steps, seed=0)
    step_times: list[float] = []
    now = clock(c.device)

    def denoise() -> torch.Tensor:
        marks = [now()]

        def tick(i: int, n: int) -> None:
            synchronize(c.device)
            marks.append(now())
        maps = RoutingAverage() if with_maps else None
        hooks = DenoiseHooks(progress=tick, on_routing=maps)
        latents = generator.generate(prompt, request, settings, subjects, hooks)
        step_times[:] = [b - a for a, b in zip(marks, marks[1:])]
        return latents

    floors = Floors(generator, prompt, size, floor_steps(steps, settings, subjects))
    with torch.no_grad():
        denoise()  # warm-up
        rounds = [(timed(denoise, c.device), *floors.measure()) for _ in range(repeats)]
        peak, floor_peak = peak_memory_gib(denoise, c.device), peak_memory_gib(floors.forward_all, c.device)
        latents = denoise()
        decode = median_time(lambda: generator.decode(latents, size, size), c.device, 1)
    total, floor, same_keys = (statistics.median(column) for column in zip(*rounds))
    return {"size": size, "subjects": len(encodings), "maps": with_maps, "denoise_s": total, "floor_s": floor,
            "overhead": statistics.median(t / f - 1 for t, f, _ in rounds), "same_keys_s": same_keys,
            "overhead_same_keys": statistics.median(t / k - 1 for t, _, k in rounds),
            "median_step_s": statistics.median(step_times), "decode_s": decode, "peak_gib": peak,
            "floor_peak_gib": floor_peak, "rounds": [list(r) for r in rounds]}


def print_rows(rows: list[dict[str, Any]], device: torch.device) -> None:
    print(f"{'size':>5} {'subj':>4} {'maps':>4} {'denoise s':>10} {'floor s':>9} {'overhead':>9} {'keys s':>8} "
          f"{'overhead':>9} {'s/step':>8} {'decode s':>9} {'peak GiB':>9} {'bare GiB':>9}  vs published H100")
    for r in rows:
        published = PUBLISHED_H100.get((r["size"], r["subjects"])) if device.type == "cuda" else None
        versus = f"{published / (r['denoise_s'] + r['decode_s']):.1f}x faster" if published else "-"
        print(f"{r['size']:>5} {r['subjects']:>4} {'yes' if r['maps'] else 'no':>4} {r['denoise_s']:>10.3f} "
              f"{r['floor_s']:>9.3f} {r['overhead']:>+9.1%} {r['same_keys_s']:>8.3f} {r['overhead_same_keys']:>+9.1%} "
              f"{r['median_step_s']:>8.4f} {r['decode_s']:>9.3f} {r['peak_gib']:>9.2f} {r['floor_peak_gib']:>9.2f}  "
              f"{versus}")


def golden_pictures() -> list:
    from PIL import Image

    pictures = []
    for case, i in GOLDEN_SUBJECTS:
        with Image.open(GOLDEN / case / f"subject_{i}.png") as im, Image.open(GOLDEN / case / f"subject_{i}_mask.png") as m:
            pictures.append((im.convert("RGB"), m.convert("L")))
    return pictures


def run(generator: AnyStoryGenerator, sizes: list[int], steps: int, repeats: int, text_tokens: int,
        max_subjects: int = 3) -> list[dict[str, Any]]:
    """Encode the golden pictures once, then time panels with 0..max_subjects subjects per size."""
    pictures = golden_pictures()[:max_subjects]
    generator.encode_subject(*pictures[0])  # warm-up
    start = time.perf_counter()
    encodings = [generator.encode_subject(*p) for p in pictures]
    print(f"encoding one subject: {(time.perf_counter() - start) / len(encodings):.3f} s (once per character)")
    prompt = random_prompt(generator, text_tokens)
    rows = []
    for size in sizes:
        for n in range(max_subjects + 1):
            rows.append(bench_panel(generator, prompt, encodings[:n], size, steps, repeats))
        rows.append(bench_panel(generator, prompt, encodings[:2], size, steps, repeats, with_maps=True))
    return rows


def synthetic_generator(transformer_config: dict, vae_config: dict, siglip_config: dict, device: str,
                        dtype: torch.dtype, lora_rank: int, ref_size: int) -> AnyStoryGenerator:
    """An AnyStory engine of the given sizes with random weights and a random checkpoint in the
    published format (loaded through the strict loader): speed does not depend on the values."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder
    from transformers import SiglipVisionConfig, SiglipVisionModel

    from engine.anystory.loading import assemble

    with torch.device(device):
        transformer = FluxTransformer2DModel(**transformer_config).to(dtype)
        vae = AutoencoderKL(**vae_config).to(dtype)
        siglip = SiglipVisionModel(SiglipVisionConfig(**siglip_config)).to(dtype)
        redux = ReduxImageEncoder(redux_dim=siglip_config["hidden_size"],
                                  txt_in_features=transformer_config["joint_attention_dim"]).to(dtype)
    pipe = FluxPipeline(FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER), vae, None, None, None, None, transformer)
    checkpoint = Path(f"/tmp/anystory_bench_{transformer_config['num_layers']}_{lora_rank}.bin")
    torch.save(random_checkpoint(transformer, redux, lora_rank), checkpoint)
    components = assemble(pipe, siglip, redux, checkpoint, device, dtype)
    checkpoint.unlink()
    return AnyStoryGenerator(components, {"synthetic": transformer_config}, ref_size, 512, "anystory-synthetic")


def random_checkpoint(transformer: torch.nn.Module, redux: torch.nn.Module, lora_rank: int) -> dict:
    """Random tensors in the published checkpoint layout for `transformer` and `redux`."""
    from engine.anystory.attention import AnyStoryAttnProcessor
    from engine.anystory.embedder import EmbedderExtras
    from engine.anystory.lora import lora_target_paths

    g = torch.Generator("cpu").manual_seed(0)

    def rand(shape) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * 0.01

    def lora(adapter: str) -> dict:
        required, _ = lora_target_paths(adapter, transformer.config.num_layers, transformer.config.num_single_layers)
        out = {}
        for path in required:
            base = transformer.get_submodule(path)
            out[f"transformer.{path}.lora_A.weight"] = rand((lora_rank, base.in_features))
            out[f"transformer.{path}.lora_B.weight"] = rand((base.out_features, lora_rank))
        return out

    hidden = transformer.config.num_attention_heads * transformer.config.attention_head_dim
    processor = {k: rand(v.shape) for k, v in AnyStoryAttnProcessor(hidden).state_dict().items()}
    router = {f"router_embedder.{k}": rand(v.shape) for k, v in EmbedderExtras(redux, 3).state_dict().items()}
    for name in transformer.attn_processors:
        router.update({f"transformer.{name}.{k}": v for k, v in processor.items()})
    router.update(lora("router"))
    redux_extras = {k: rand(v.shape) for k, v in EmbedderExtras(redux, 9).state_dict().items()}
    return {"ref": lora("ref"), "redux": redux_extras, "router": router}


def write_json(path: Path, rows: list[dict[str, Any]], device: torch.device, args: argparse.Namespace) -> None:
    """The figures with what they were measured on, next to the published ones."""
    import diffusers

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu, one thread"
    published = [{"size": size, "subjects": n, "total_s": s} for (size, n), s in PUBLISHED_H100.items()]
    document = {"device": name, "torch": torch.__version__, "diffusers": diffusers.__version__,
                "steps": args.steps, "repeats": args.repeats, "compile": args.compile,
                "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": rows,
                "published_h100": published, "published_h100_bare_flux_s": PUBLISHED_H100_BARE}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1))
    print(f"wrote {path}")


def build(args: argparse.Namespace) -> tuple[Optional[AnyStoryGenerator], list[int], int]:
    """The engine to time, the panel sizes and the prompt length for `args.device`."""
    if args.device == "cuda":
        if not torch.cuda.is_available():
            print("no CUDA device here: skipping the full-size FLUX benchmark")
            return None, [], 0
        generator = synthetic_generator(FLUX_DEV, FLUX_VAE, SIGLIP_SO400M, device="cuda", dtype=torch.bfloat16,
                                        lora_rank=128, ref_size=512)
        print(f"full-size FLUX.1-dev transformer, random bf16 weights, {torch.cuda.get_device_name()}")
        return generator, args.sizes or [512, 1024], 512
    torch.set_num_threads(1)  # the tiny engine runs single-threaded; so does its floor
    print("tiny golden components on the CPU (one thread)")
    return AnyStoryGenerator.tiny(), args.sizes or [512], 16


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="*", help="panel sizes (default 512 on cpu, 512 1024 on cuda)")
    parser.add_argument("--compile", choices=COMPILE_MODES, help="torch.compile the repeated block math (CUDA)")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/anystory_<device>_<time>.json)")
    args = parser.parse_args(argv)
    generator, sizes, tokens = build(args)
    if generator is None:
        return 0
    if args.compile:
        generator.model.compile(args.compile)
    print(f"{args.steps} steps, median of {args.repeats}; published defaults (router and ref_start_at 0.09 for 2+)"
          + (f"; compiled ({args.compile})" if args.compile else ""))
    rows = run(generator, sizes, args.steps, args.repeats, tokens)
    device = generator.components.device
    print_rows(rows, device)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    write_json(args.out or RESULTS / f"anystory_{device.type}_{stamp}.json", rows, device, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
