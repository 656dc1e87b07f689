"""The benchmark's code paths on the CPU: the full-size GPU path builds a random engine with a
random checkpoint in the published format; here it runs at tiny sizes so it stays exercised
on machines without CUDA (the figures themselves are printed by bench/anystory_bench.py)."""
from __future__ import annotations

import torch

from bench.anystory_bench import run, synthetic_generator

TINY_FLUX = dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
                 num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True,
                 axes_dims_rope=(4, 6, 6))
TINY_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8, 8), norm_num_groups=4,
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=1, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                use_post_quant_conv=False)
TINY_SIGLIP = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=384,
                   patch_size=14)


def test_gpu_benchmark_path_runs_at_tiny_size():
    generator = synthetic_generator(TINY_FLUX, TINY_VAE, TINY_SIGLIP, device="cpu", dtype=torch.float32, lora_rank=4,
                                    ref_size=128)
    rows = run(generator, sizes=[64], steps=3, repeats=1, text_tokens=8, max_subjects=2)
    assert [(r["size"], r["subjects"], r["maps"]) for r in rows] == [(64, 0, False), (64, 1, False), (64, 2, False),
                                                                     (64, 2, True)]
    for row in rows:
        assert row["denoise_s"] > 0 and row["floor_s"] > 0 and row["median_step_s"] > 0


def test_cuda_request_skips_cleanly_without_cuda(capsys):
    from bench.anystory_bench import main

    if torch.cuda.is_available():  # the real run is the benchmark's job, not a test's
        return
    assert main(["--device", "cuda"]) == 0
    assert "no CUDA device" in capsys.readouterr().out


def test_a_run_writes_its_figures_as_json_beside_the_published_ones(tmp_path):
    import json

    from bench.anystory_bench import main

    out = tmp_path / "figures.json"
    threads = torch.get_num_threads()
    try:
        assert main(["--steps", "2", "--repeats", "1", "--sizes", "64", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    document = json.loads(out.read_text())
    assert document["device"] == "cpu, one thread" and document["steps"] == 2 and document["compile"] is None
    assert [(r["size"], r["subjects"], r["maps"]) for r in document["rows"]] == [
        (64, 0, False), (64, 1, False), (64, 2, False), (64, 3, False), (64, 2, True)]
    assert all(r["denoise_s"] > 0 and len(r["rounds"]) == 1 for r in document["rows"])
    assert {"size": 512, "subjects": 2, "total_s": 14.13} in document["published_h100"]
