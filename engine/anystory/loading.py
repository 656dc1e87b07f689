"""Loading the AnyStory components: FLUX.1-dev, FLUX.1-Redux-dev and the AnyStory checkpoint
(real weights, from local folders or hub repo ids), or the tiny golden components for tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, TypeVar

import torch
from diffusers import FluxPipeline, FluxTransformer2DModel
from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder
from torch import nn
from transformers import SiglipVisionModel

from engine.base import EngineError
from engine.anystory.attention import install_processors
from engine.anystory.checkpoint import load_checkpoint, read_checkpoint
from engine.anystory.embedder import SubjectEmbedders
from engine.anystory.lora import StreamLoRA
from engine.anystory.memory import MemoryChoice, device_info, resolve_memory
from engine.anystory.memory_loading import pipeline_quantization, place, text_encoders_offloaded
from engine.anystory.tiny_text import tiny_text_components

CHECKPOINT_FILE = "anystory_flux.bin"
TINY_COMPONENTS = Path(__file__).resolve().parents[2].parent / "shared" / "golden" / "anystory_flux_tiny" / "components"
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
T = TypeVar("T")
FULL = MemoryChoice("full", "full", "full: chosen by configuration")


@dataclass
class Components:
    """Everything the engine runs. Modules live on `device`, or (with offload, and the text
    encoders off the CPU) on the CPU, brought in layer by layer by diffusers' group offloading."""

    pipe: FluxPipeline  # transformer (AnyStory processors installed), VAE, scheduler, text encoders
    siglip: SiglipVisionModel
    embedders: SubjectEmbedders
    loras: dict[str, StreamLoRA]
    device: torch.device
    dtype: torch.dtype
    offload: bool = False
    memory: MemoryChoice = FULL


def assemble(pipe: FluxPipeline, siglip: SiglipVisionModel, redux: nn.Module, checkpoint: Path, device: str,
             dtype: torch.dtype, offload: bool = False, memory: MemoryChoice = FULL) -> Components:
    """Install the AnyStory processors, load the checkpoint strictly, place everything as the
    memory profile says (quantized modules keep the dtypes their quantizer gave them)."""
    install_processors(pipe.transformer)
    embedders = SubjectEmbedders(redux)
    loras = load_checkpoint(read_checkpoint(checkpoint), pipe.transformer, embedders, str(checkpoint))
    target = torch.device(device)
    offload = offload or memory.offloaded
    text = {pipe.text_encoder, pipe.text_encoder_2}
    modules = [c for c in pipe.components.values() if isinstance(c, nn.Module)] + [siglip, embedders, *loras.values()]
    for module in modules:
        quantized = getattr(module, "hf_quantizer", None) is not None
        place(module, target, None if quantized else dtype,
              text_encoders_offloaded(target) if module in text else offload)
    return Components(pipe, siglip, embedders, loras, target, dtype, offload, memory)


def load_golden_layout(components: Path = TINY_COMPONENTS, device: str = "cpu", memory: str = "full",
                       offload: bool = False) -> Components:
    """Components in the golden layout (flux/ without text encoders, redux/, anystory_flux.bin),
    float32, with tiny text encoders made in code: the "anystory-tiny" configuration. The
    memory profile quantizes the transformer through from_pretrained as with real weights (the
    tiny text encoders are made in code, so they stay float32)."""
    if not (components / CHECKPOINT_FILE).is_file():
        raise EngineError(f"AnyStory components not found: expected flux/, redux/ and {CHECKPOINT_FILE} "
                          f"in {components}")
    config = FluxTransformer2DModel.load_config(components / "flux", subfolder="transformer")
    text = tiny_text_components(config["joint_attention_dim"], config["pooled_projection_dim"])
    choice = resolve_memory(memory, device_info(device))
    pipe = FluxPipeline.from_pretrained(components / "flux", dtype=torch.float32, **text,
                                        quantization_config=pipeline_quantization(choice, torch.float32,
                                                                                  ("transformer",)))
    siglip = SiglipVisionModel.from_pretrained(components / "redux", subfolder="image_encoder")
    redux = ReduxImageEncoder.from_pretrained(components / "redux", subfolder="image_embedder")
    return assemble(pipe, siglip, redux, components / CHECKPOINT_FILE, device, torch.float32, offload, choice)


def _hub_message(exc: BaseException, source: str, what: str) -> str:
    """A sentence a user can act on, from a loading error anywhere in the exception chain."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, OfflineModeIsEnabled, \
        RepositoryNotFoundError

    if Path(source).expanduser().exists():
        return f"{what}: the folder {source} could not be loaded ({str(exc).splitlines()[0]})"
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, GatedRepoError) for e in chain) or "gated" in text or " 401" in text or " 403" in text:
        return (f"{what} ({source}) is gated on the Hugging Face hub: accept its licence at "
                f"https://huggingface.co/{source} while logged in, then set HF_TOKEN to a token of that account")
    offline_words = ("offline", "not fully cached", "connect", "name or service not known")
    if any(isinstance(e, (LocalEntryNotFoundError, OfflineModeIsEnabled)) for e in chain) or any(
        word in text for word in offline_words
    ):
        return (f"{what} ({source}) is not in the local Hugging Face cache and cannot be downloaded now "
                f"(offline or no connection); download it once with internet access, or give a local folder")
    if any(isinstance(e, RepositoryNotFoundError) for e in chain):
        return f"{what}: {source} is neither a local folder nor a Hugging Face repository"
    return f"cannot load {what} from {source}: {exc}"


def _fetch(what: str, source: str, load: Callable[[], T]) -> T:
    try:
        return load()
    except EngineError:
        raise
    except Exception as exc:  # hub, file-system and format errors all become one clear message
        raise EngineError(_hub_message(exc, source, what)) from exc


def checkpoint_path(source: str) -> Path:
    """A local file, a folder holding anystory_flux.bin, or a hub repo id (downloaded to the cache)."""
    local = Path(source).expanduser()
    if local.is_file():
        return local
    if local.is_dir():
        return local / CHECKPOINT_FILE
    from huggingface_hub import hf_hub_download

    return Path(_fetch("the AnyStory checkpoint", source, lambda: hf_hub_download(source, CHECKPOINT_FILE)))


def load_real(flux: str, redux: str, anystory: str, device: Optional[str], dtype: str,
              offload: bool, memory: str = "auto") -> Components:
    """FLUX.1-dev + FLUX.1-Redux-dev + anystory_flux.bin from local folders or hub repo ids, with
    the transformer and T5 quantized as the memory profile says."""
    if dtype not in DTYPES:
        raise EngineError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EngineError("--device cuda was asked for but torch sees no CUDA GPU here")
    torch_dtype = DTYPES[dtype]
    choice = resolve_memory(memory, device_info(device))
    quantization = pipeline_quantization(choice, torch_dtype, ("transformer", "text_encoder_2"))
    pipe = _fetch("FLUX.1-dev", flux, lambda: FluxPipeline.from_pretrained(flux, dtype=torch_dtype,
                                                                           quantization_config=quantization))
    siglip = _fetch("the FLUX.1-Redux-dev image encoder", redux, lambda: SiglipVisionModel.from_pretrained(
        redux, subfolder="image_encoder", dtype=torch_dtype))
    embedder = _fetch("the FLUX.1-Redux-dev image embedder", redux, lambda: ReduxImageEncoder.from_pretrained(
        redux, subfolder="image_embedder", dtype=torch_dtype))
    return assemble(pipe, siglip, embedder, checkpoint_path(anystory), device, torch_dtype, offload, choice)
