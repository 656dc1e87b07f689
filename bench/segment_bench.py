"""Segmentation quality and latency. Prints figures; run from the repo root:

    python bench/segment_bench.py [--model tiny|vit_b|vit_l|vit_h] [--repeats N]
    python bench/segment_bench.py --anystory PATH     # per-picture IoU on AnyStory's pictures

Latency: a click with and without the SAM embedding cache, and the no-weights fallback on
a 1024 x 1024 picture. The default SAM is the tiny random-weight model; `--model vit_b`
builds Meta's real architecture with random weights (same compute as the checkpoint).

Quality: the 12 subject pictures published with AnyStory, each with its published mask
(assets/examples/N.webp and N_mask.webp). They are not copied into this repository: they
show characters whose rights belong to others, which the AnyStory repository's Apache-2.0
licence cannot grant. Get them with
`git clone https://github.com/junjiehe96/AnyStory` and pass the clone (or its .git folder)
as PATH. The fallback runs without clicks; IoU is against the published mask at 128.
"""
from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.fallback_segmenter import FallbackSegmenter  # noqa: E402


def elapsed_ms(fn) -> float:
    """Wall time of fn() in milliseconds."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def median_ms(fn, repeats: int) -> float:
    """Median wall time of fn() over `repeats` runs, in milliseconds."""
    return statistics.median(elapsed_ms(fn) for _ in range(repeats))


def median_cpu_ms(fn, repeats: int) -> float:
    """Median CPU time of fn() (all threads of this process), in milliseconds: on a machine
    busy with other work it stays near what the click costs, where wall time grows."""
    def cpu_ms() -> float:
        start = time.process_time()
        fn()
        return (time.process_time() - start) * 1000

    return statistics.median(cpu_ms() for _ in range(repeats))


def synthetic_picture(size: int) -> Image.Image:
    """A red ellipse on a blue-to-sand gradient, with a little noise."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    t = ((xx + yy) / 2)[..., None]
    canvas = (1 - t) * np.array([30, 60, 180]) + t * np.array([230, 200, 120])
    canvas[((xx - 0.5) / 0.2) ** 2 + ((yy - 0.5) / 0.3) ** 2 <= 1] = (200, 40, 40)
    canvas += np.random.default_rng(0).normal(0, 4, canvas.shape)
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))


def bench_sam(model_type: str, repeats: int, size: int) -> None:
    import torch

    from engine.sam_segmenter import SamSegmenter, model_builder

    torch.manual_seed(0)
    picture = synthetic_picture(size)
    clicks = [(size * (0.3 + 0.4 * i / repeats), size / 2, True) for i in range(repeats)]
    cached = SamSegmenter(model_builder(model_type)(), model_type, device="cpu")
    uncached = SamSegmenter(model_builder(model_type)(), model_type, device="cpu", cache_size=0)
    first = elapsed_ms(lambda: cached.segment(picture, [clicks[0]]))
    # Interleaved, so that load from other processes hits both figures alike.
    pairs = [
        (elapsed_ms(lambda: cached.segment(picture, [click])),
         elapsed_ms(lambda: uncached.segment(picture, [click])))
        for click in clicks
    ]
    with_cache = statistics.median(p[0] for p in pairs)
    without = statistics.median(p[1] for p in pairs)
    print(f"sam {model_type} on CPU ({torch.get_num_threads()} threads), {size}x{size} picture:")
    print(f"  first click (embedding computed)   {first:9.1f} ms")
    print(f"  further click, embedding cached    {with_cache:9.1f} ms  (median of {repeats})")
    print(f"  click without the embedding cache  {without:9.1f} ms  (median of {repeats})")
    print(f"  speed-up of a further click        {without / with_cache:9.1f} x")


def bench_fallback(repeats: int) -> None:
    picture = synthetic_picture(1024)
    rgba = picture.convert("RGBA")
    rgba.putalpha(Image.fromarray((np.asarray(picture)[..., 0] > 150).astype(np.uint8) * 255))
    segmenter = FallbackSegmenter()
    click = [(512, 512, True)]
    print(f"fallback, 1024x1024 picture (median of {repeats}; wall time, and CPU time of this process):")
    negative = click + [(100, 100, False)]
    for label, run in (("background estimate + click", lambda: segmenter.segment(picture, click)),
                       ("... + a negative click", lambda: segmenter.segment(picture, negative)),
                       ("RGBA alpha channel + click", lambda: segmenter.segment(rgba, click))):
        wall, cpu = median_ms(run, repeats), median_cpu_ms(run, repeats)
        print(f"  {label:34} {wall:9.1f} ms wall {cpu:9.1f} ms CPU")


PUBLISHED = ("1", "2", "3", "4", "5_1", "5_2", "6_1", "6_2", "7", "8", "9", "10")
"""The AnyStory example pictures that come with a mask (assets/examples/N_mask.webp)."""


WRITER_CLICKS = {"2": [(300.0, 300.0, False)]}
"""Clicks a writer would add where the cut-out without clicks is worst: picture 2 keeps the
background enclosed between the legs, and one negative click there removes it."""


def _published_file(source: Path, name: str) -> Image.Image:
    """assets/examples/<name> from a clone's work tree, else from its git history."""
    path = source / "assets" / "examples" / name
    if path.is_file():
        data = path.read_bytes()
    else:
        git_dir = source if (source / "HEAD").is_file() else source / ".git"
        data = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"HEAD:assets/examples/{name}"],
                              check=True, capture_output=True).stdout
    return Image.open(io.BytesIO(data))


def published_pictures(source: Path):
    """(name, RGB picture, bool mask) for each published picture with a mask."""
    for name in PUBLISHED:
        picture = _published_file(source, f"{name}.webp").convert("RGB")
        truth = np.asarray(_published_file(source, f"{name}_mask.webp").convert("L")) >= 128
        yield name, picture, truth


def bench_large_upload(side: int = 8000) -> None:
    """An 8000 x 8000 photo as the Characters tab takes it: read through the app's checks,
    a working copy made, then a click on the copy (the original is kept for saving)."""
    from app.character_selection import Selection
    from story.assets import read_image

    buffer = io.BytesIO()
    synthetic_picture(1024).resize((side, side), Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    start = time.perf_counter()
    sel = Selection.of_upload(read_image(data))
    ready = (time.perf_counter() - start) * 1000
    segmenter = FallbackSegmenter()
    click = [(sel.image.width / 2, sel.image.height / 2, True)]
    wall = median_ms(lambda: segmenter.segment(sel.image, click), 3)
    cpu = median_cpu_ms(lambda: segmenter.segment(sel.image, click), 3)
    copy = f"{sel.image.width}x{sel.image.height}"
    print(f"{side}x{side} JPEG upload ({len(data) / 2**20:.1f} MB), worked on at {copy}:")
    print(f"  read + working copy                {ready:9.1f} ms wall")
    print(f"  click on the working copy          {wall:9.1f} ms wall {cpu:9.1f} ms CPU (median of 3)")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def bench_quality(source: Path, repeats: int) -> None:
    """Per-picture IoU of the fallback without clicks, and its time per picture."""
    segmenter = FallbackSegmenter()
    scores = []
    print(f"fallback without clicks on AnyStory's published pictures ({source}):")
    print(f"  {'picture':8} {'size':>10} {'IoU':>7} {'wall ms':>8} {'CPU ms':>8}")
    for name, picture, truth in published_pictures(source):
        mask, _ = segmenter.segment(picture)
        scores.append(iou(mask, truth))
        wall = median_ms(lambda: segmenter.segment(picture), repeats)
        cpu = median_cpu_ms(lambda: segmenter.segment(picture), repeats)
        size = f"{picture.width}x{picture.height}"
        print(f"  {name:8} {size:>10} {scores[-1]:7.4f} {wall:8.1f} {cpu:8.1f}")
    print(f"  mean IoU {np.mean(scores):.4f}, lowest {min(scores):.4f} ({len(scores)} pictures)")
    for name, picture, truth in published_pictures(source):
        if name in WRITER_CLICKS:
            mask, _ = segmenter.segment(picture, WRITER_CLICKS[name])
            print(f"  {name} with clicks {WRITER_CLICKS[name]}: IoU {iou(mask, truth):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", choices=["tiny", "vit_b", "vit_l", "vit_h"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--size", type=int, default=512, help="side of the SAM test picture")
    parser.add_argument("--anystory", type=Path, metavar="PATH",
                        help="a clone of github.com/junjiehe96/AnyStory (or its .git folder)")
    args = parser.parse_args()
    if args.anystory:
        bench_quality(args.anystory, max(1, args.repeats // 4))
    bench_fallback(args.repeats)
    bench_large_upload()
    bench_sam(args.model, args.repeats, args.size)


if __name__ == "__main__":
    main()
