"""Benchmark of the draft renderer: a 768x768 panel with three characters, rendered many
times; prints the median and 90th-percentile milliseconds per panel (target: well under 100)."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.draft import DraftGenerator  # noqa: E402
from tests.draft_helpers import three_character_request  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--routing-maps", action="store_true", help="also return routing maps")
    args = parser.parse_args()
    generator = DraftGenerator()
    request = three_character_request(generator, return_routing_maps=args.routing_maps)
    generator.render(request)  # warm-up: font loading, first-call allocations
    times = []
    for seed in range(args.runs):
        request.seed = seed
        start = time.perf_counter()
        generator.render(request)
        times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    print(f"draft 768x768, 3 characters, routing maps {'on' if args.routing_maps else 'off'}: "
          f"median {statistics.median(times):.1f} ms/panel, "
          f"p90 {times[int(0.9 * (len(times) - 1))]:.1f} ms over {args.runs} runs")


if __name__ == "__main__":
    main()
