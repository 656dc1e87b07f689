"""Memory profiles of the AnyStory engine: which one runs here, and why.

`full` is bf16 everywhere; `int8`/`fp8` quantize the FLUX transformer (and T5) weight-only
with torchao; `nf4` uses bitsandbytes 4-bit NF4; `nf4-offload` adds diffusers group
offloading at leaf level; `auto` picks from the device's free memory. This module only
decides and explains; engine.anystory.memory_loading turns a profile into
`from_pretrained(..., quantization_config=...)` arguments and offloading hooks.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Optional

from engine.base import EngineError

log = logging.getLogger("anystory.memory")

PROFILES = ("full", "int8", "fp8", "nf4", "nf4-offload")
CHOICES = ("auto",) + PROFILES
# GiB of GPU memory each profile aims to stay under for 2 subjects + router at 1024², text
# encoders included (the targets; unmeasured here, see README). `auto` picks the first
# profile whose figure plus HEADROOM_GIB fits in the free memory.
TARGET_GIB = {"full": 40.0, "int8": 22.0, "fp8": 22.0, "nf4": 14.0, "nf4-offload": 7.5}
AUTO_ORDER = ("full", "int8", "nf4", "nf4-offload")
HEADROOM_GIB = 1.0
FP8_CAPABILITY = (8, 9)
NEEDS = {"int8": "torchao", "fp8": "torchao", "nf4": "bitsandbytes", "nf4-offload": "bitsandbytes"}
PINS = {"torchao": "torchao==0.18.0", "bitsandbytes": "bitsandbytes==0.50.2"}


@dataclass(frozen=True)
class DeviceInfo:
    """What the profile choice needs to know about the device."""

    type: str  # "cuda", "cpu", ...
    name: str = ""
    capability: Optional[tuple[int, int]] = None
    free_gib: Optional[float] = None


@dataclass(frozen=True)
class MemoryChoice:
    """The profile that runs and a sentence saying why."""

    requested: str
    profile: str
    reason: str

    @property
    def numbers(self) -> Optional[str]:
        """What the profile changes in the computed numbers: None for full; offloading moves
        weights, it does not change them, so nf4-offload computes what nf4 computes."""
        return None if self.profile == "full" else self.profile.removesuffix("-offload")

    @property
    def quantized(self) -> bool:
        return self.profile != "full"

    @property
    def offloaded(self) -> bool:
        return self.profile.endswith("-offload")


def device_info(device: str) -> DeviceInfo:
    """Name, compute capability and free memory of a torch device (CUDA only has them)."""
    import torch

    dev = torch.device(device)
    if dev.type != "cuda":
        return DeviceInfo(dev.type)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    free, _total = torch.cuda.mem_get_info(index)
    return DeviceInfo("cuda", torch.cuda.get_device_name(index), torch.cuda.get_device_capability(index),
                      free / 2 ** 30)


def choose_auto(info: DeviceInfo) -> MemoryChoice:
    """`auto`: the least compressed profile whose target fits the free GPU memory."""
    if info.type != "cuda" or info.free_gib is None:
        return MemoryChoice("auto", "full", f"auto chose full: the engine runs on {info.type}, "
                                            "so there is no GPU memory to save")
    for profile in AUTO_ORDER:
        if TARGET_GIB[profile] + HEADROOM_GIB <= info.free_gib:
            return MemoryChoice("auto", profile, (
                f"auto chose {profile}: {info.free_gib:.1f} GiB free on {info.name or 'the GPU'}, and {profile} "
                f"aims to stay under {TARGET_GIB[profile]:g} GiB"))
    return MemoryChoice("auto", "nf4-offload", (
        f"auto chose nf4-offload: only {info.free_gib:.1f} GiB free on {info.name or 'the GPU'}, less than the "
        f"{TARGET_GIB['nf4-offload']:g} GiB it aims for; renders may run out of memory"))


def _installed(package: str) -> bool:
    try:
        importlib.import_module(package)
    except ImportError:
        return False
    return True


def check_profile(profile: str, info: DeviceInfo) -> None:
    """Raise EngineError with a sentence a user can act on when `profile` cannot run here."""
    if profile not in PROFILES:
        raise EngineError(f"unknown memory profile {profile!r}; choose one of {', '.join(CHOICES)}")
    package = NEEDS.get(profile)
    if package and not _installed(package):
        raise EngineError(f"the {profile} memory profile needs {package}, which is not installed: "
                          f"pip install {PINS[package]}")
    if profile.startswith("nf4") and info.type != "cuda":
        raise EngineError(f"the {profile} memory profile needs a CUDA GPU: diffusers loads bitsandbytes 4-bit "
                          f"weights only onto a GPU, and this engine runs on {info.type}; use --memory int8 or full")
    if profile == "fp8" and info.type == "cuda" and (info.capability or (0, 0)) < FP8_CAPABILITY:
        major, minor = info.capability or (0, 0)
        raise EngineError(f"the fp8 memory profile needs a GPU of compute capability 8.9 or newer (RTX 40xx, L4, "
                          f"L40, H100); {info.name or 'this GPU'} is {major}.{minor}: use --memory int8 "
                          f"(the same memory, any card)")


def resolve_memory(requested: str, info: DeviceInfo) -> MemoryChoice:
    """The profile that runs for `requested` on this device, checked, with the reason logged."""
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        choice = choose_auto(info)
    else:
        choice = MemoryChoice(requested, requested, f"{requested}: chosen by configuration")
    check_profile(choice.profile, info)
    log.info("memory profile %s (%s)", choice.profile, choice.reason)
    return choice
