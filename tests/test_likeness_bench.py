"""bench/likeness_bench.py runs (tiny sizes) and prints its figures; on a machine without
CUDA its GPU mode says so and exits cleanly (the figures themselves are not asserted)."""
import pytest

from bench.likeness_bench import main


def test_the_likeness_benchmark_prints_both_engines(capsys):
    assert main(["--runs", "1", "--size", "64", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "draft 768x768, 3 characters" in out and "tiny AnyStory on the CPU" in out
    assert out.count("likeness") == 2 and "% of the panel" in out


def test_the_gpu_mode_skips_without_cuda(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the GPU mode would run the full-size benchmark")
    assert main(["--device", "cuda"]) == 0
    assert "no CUDA device here" in capsys.readouterr().out
