"""A memory profile applied at load time: quantization configs for `from_pretrained`, and
where each module lives (on the device, or group-offloaded by diffusers' hooks).

Our denoising loop calls the transformer's leaf modules (linear layers, norms) itself and
never the transformer's or its blocks' `forward`, so only hooks on leaf modules fire:
diffusers group offloading at `leaf_level` does; `block_level`, model CPU offload and
first-block caches hook `forward`s we never call (see README, "Memory profiles").
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import nn

from engine.anystory.memory import MemoryChoice

TILED_VAE_SIDE = 1536  # panels with a side at least this long decode tile by tile


def _torchao_config(profile: str):
    from torchao.quantization import Float8WeightOnlyConfig, Int8WeightOnlyConfig

    return Int8WeightOnlyConfig() if profile == "int8" else Float8WeightOnlyConfig()


def component_config(profile: str, component: str, dtype: torch.dtype):
    """The quantization config of one pipeline component: diffusers' for the transformer,
    transformers' for the T5 encoder (`text_encoder_2`)."""
    if component == "transformer":
        import diffusers as lib
    else:
        import transformers as lib
    if profile in ("int8", "fp8"):
        return lib.TorchAoConfig(_torchao_config(profile))
    return lib.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)


def pipeline_quantization(choice: MemoryChoice, dtype: torch.dtype, components: tuple[str, ...]):
    """`quantization_config` for FluxPipeline.from_pretrained: the profile's config for each of
    `components` (those loaded from disk), or None for `full`."""
    if not choice.quantized:
        return None
    from diffusers import PipelineQuantizationConfig

    return PipelineQuantizationConfig(quant_mapping={c: component_config(choice.profile, c, dtype)
                                                     for c in components})


def group_offload(module: nn.Module, device: torch.device) -> None:
    """Keep `module`'s weights on the CPU; diffusers' leaf-level hooks bring each layer to
    `device` when it is called and take it back after (with CUDA streams where present)."""
    from diffusers.hooks import apply_group_offloading

    apply_group_offloading(module, onload_device=device, offload_device=torch.device("cpu"),
                           offload_type="leaf_level", use_stream=device.type == "cuda")


def place(module: nn.Module, device: torch.device, dtype: Optional[torch.dtype], offloaded: bool) -> None:
    """Cast (unless quantized: `dtype` None) and put `module` on `device`, or group-offload it;
    inference only either way."""
    module.eval().requires_grad_(False)
    if dtype is not None and getattr(module, "dtype", None) != dtype:
        module.to(dtype=dtype)
    if offloaded:
        group_offload(module, device)
    else:
        module.to(device)


def text_encoders_offloaded(device: torch.device) -> bool:
    """Text encoders never sit on a GPU through denoising: off the CPU they are group-offloaded,
    so each prompt brings them in layer by layer and they leave again."""
    return device.type != "cpu"


@contextmanager
def vae_tiling(vae: nn.Module, height: int, width: int) -> Iterator[None]:
    """Decode panels with a side of TILED_VAE_SIDE px or more tile by tile (and batches slice
    by slice), so the decode does not spike; smaller panels decode in one piece."""
    large = max(height, width) >= TILED_VAE_SIDE
    if large:
        vae.enable_tiling()
        vae.enable_slicing()
    try:
        yield
    finally:
        if large:
            vae.disable_tiling()
            vae.disable_slicing()
