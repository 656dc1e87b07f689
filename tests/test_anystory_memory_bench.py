"""bench/anystory_memory.py's code path on the CPU at tiny sizes: random weights written in the
hub's folder layout, loaded per profile by the engine's own loader (int8 through torchao, as on
a GPU), one panel per size and subject count; the GPU figures are the benchmark's to print."""
from __future__ import annotations

import torch

from bench.anystory_memory import add_ratios, bench_profile, main, write_random_weights

TINY = {
    "transformer": dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
                        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
                        guidance_embeds=True, axes_dims_rope=(4, 6, 6)),
    "vae": dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8, 8), norm_num_groups=4,
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=1, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                use_post_quant_conv=False),
    "siglip": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=384,
                   patch_size=14),
    "clip": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                 max_position_embeddings=77, projection_dim=32),
    "t5": dict(d_model=32, d_kv=16, d_ff=64, num_layers=1, num_heads=2, vocab_size=300),
    "lora_rank": 4,
}


def test_memory_benchmark_path_runs_at_tiny_size(tmp_path):
    sources = write_random_weights(tmp_path, TINY, "cpu", torch.bfloat16)
    rows = []
    for profile in ("full", "int8"):
        rows += bench_profile(sources, profile, "cpu", [64], steps=2, ref_size=128)
    rows = add_ratios(rows)
    assert [(r["profile"], r["size"], r["subjects"], r["router"]) for r in rows] == [
        ("full", 64, 1, False), ("full", 64, 2, True), ("int8", 64, 1, False), ("int8", 64, 2, True)]
    assert all(r["seconds"] > 0 and r["peak_gib"] is None for r in rows)  # no GPU memory on a CPU
    assert [r["time_ratio"] for r in rows[:2]] == [1.0, 1.0] and all(r["time_ratio"] > 0 for r in rows[2:])


def test_memory_benchmark_skips_cleanly_without_cuda(capsys):
    if torch.cuda.is_available():  # the real run is the benchmark's job, not a test's
        return
    assert main(["--device", "cuda"]) == 0
    assert "no CUDA device here" in capsys.readouterr().out
