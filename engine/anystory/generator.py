"""`AnyStoryGenerator`: the AnyStory engine behind the engine.base Generator interface."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch
from PIL import Image

from engine.base import CancelFn, EngineError, PanelRequest, ProgressFn, RenderResult, SubjectEncoding
from engine.anystory.encoder import SubjectEncoder
from engine.anystory.loading import TINY_COMPONENTS, Components, load_golden_layout, load_real
from engine.anystory.memory_loading import vae_tiling
from engine.anystory.params import SAMPLES, AnyStorySettings, describe_params, plan_steps, resolve_params
from engine.anystory.pipeline import (DenoiseHooks, LatentBlend, Prompt, RoutingAverage, Subjects, box_allow,
                                      decode, denoise, image_ids, initial_latents, stack_subjects, to_image)
from engine.anystory.prompt_cache import PromptCache
from engine.anystory.transformer import StreamTransformer

ENCODING_KEYS = ("redux_embeds", "router_embeds", "ref_tokens", "ref_ids", "ref_mask")
TINY_REF_SIZE = 256
TINY_TEXT_TOKENS = 32
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""torch.compile modes for the repeated block math (ANYSTORY_COMPILE; "reduce-overhead" adds CUDA graphs)."""


class AnyStoryGenerator:
    """Encodes characters once (deterministically) and renders panels with AnyStory."""

    name = "anystory"
    samples = SAMPLES

    def __init__(self, components: Components, identity: dict[str, Any], ref_size: int, text_tokens: int,
                 label: str, cpu_threads: Optional[int] = None):
        self.components = components
        self.model = StreamTransformer(components.pipe.transformer, components.loras,
                                       merge_routing=not components.offload)
        self.encoder = SubjectEncoder(components.siglip, components.embedders, components.pipe, ref_size)
        self.ref_size, self.text_tokens, self.label = ref_size, text_tokens, label
        identity = {**identity, "ref_size": ref_size, "dtype": str(components.dtype)}
        if components.memory.numbers:  # quantization changes the numbers; full keeps its fingerprint
            identity["memory"] = components.memory.numbers
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        self._fingerprint = f"{label}:{digest}"
        self._lock = threading.Lock()
        self._cpu_threads = cpu_threads
        self.prompts = PromptCache()

    @classmethod
    def tiny(cls, device: str = "cpu", components: Path = TINY_COMPONENTS,
             ref_size: int = TINY_REF_SIZE, memory: str = "full", offload: bool = False) -> "AnyStoryGenerator":
        """The "anystory-tiny" configuration (tests, benchmarks): tiny random weights."""
        loaded = load_golden_layout(Path(components), device, memory, offload)
        checkpoint = hashlib.sha256((Path(components) / "anystory_flux.bin").read_bytes()).hexdigest()
        # tiny tensors gain nothing from intra-op threads and lose badly to them on a busy CPU
        return cls(loaded, {"components": "golden-tiny", "checkpoint": checkpoint}, ref_size=ref_size,
                   text_tokens=TINY_TEXT_TOKENS, label="anystory-tiny", cpu_threads=1)

    @classmethod
    def from_config(cls, config: Any, ref_size: int = 512) -> "AnyStoryGenerator":
        """Real weights from an engine.registry.EngineConfig (flux, redux, anystory, device, dtype, offload,
        memory, compile)."""
        if config.compile is not None and config.compile not in COMPILE_MODES:
            raise EngineError(f"unknown compile mode {config.compile!r}; choose one of {', '.join(COMPILE_MODES)}")
        loaded = load_real(config.flux, config.redux, config.anystory, config.device, config.dtype, config.offload,
                           config.memory)
        identity = {"flux": config.flux, "redux": config.redux, "anystory": config.anystory}
        generator = cls(loaded, identity, ref_size=ref_size, text_tokens=512, label="anystory")
        if config.compile is not None:
            generator.model.compile(config.compile)
        return generator

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def memory(self) -> dict[str, str]:
        """The memory profile that runs and why (for --json output and the Settings tab)."""
        m = self.components.memory
        return {"requested": m.requested, "profile": m.profile, "reason": m.reason}

    def describe(self) -> str:
        c = self.components
        where = f"{c.device.type}, {str(c.dtype).removeprefix('torch.')}" + (", offload" if c.offload else "")
        where += f", memory {c.memory.profile} ({c.memory.reason})"
        if self.label == "anystory-tiny":
            return f"anystory-tiny on {where}: tiny random weights for tests, not real panels"
        return f"anystory on {where}: FLUX.1-dev + Redux + AnyStory"

    @staticmethod
    def parameters() -> list[dict[str, Any]]:
        """The advanced settings (engine.base.Generator.parameters), from engine.anystory.params."""
        return describe_params()

    def encode_subject(self, image: Image.Image, mask: Image.Image) -> SubjectEncoding:
        """Deterministic encoding of one character version (cache it; it is reused per panel)."""
        _check_subject(image, mask)
        # default CPU threads here: oneDNN picks other convolution kernels single-threaded, which
        # moves the reference latents by ~3e-4 from the published encoder's
        with self._lock, torch.no_grad():
            tensors = self.encoder.encode(image, mask)
        arrays = {k: v.detach().float().cpu().numpy() for k, v in tensors.items()}
        return SubjectEncoding(self.fingerprint, arrays, {"backend": self.label, "ref_size": str(self.ref_size)})

    def render(self, request: PanelRequest, progress: Optional[ProgressFn] = None,
               cancel: Optional[CancelFn] = None, blend: Optional[LatentBlend] = None) -> RenderResult:
        """Render one panel; `blend` rewrites the latents after each step (region redo).
        The result keeps its final packed latents (float32) so a region can be redone later."""
        started = time.perf_counter()
        _check_request(request)
        settings = resolve_params(request.params, len(request.subjects))
        first = int(request.steps * settings.routing_map_from + 0.5)
        routing = RoutingAverage(first) if request.return_routing_maps else None
        with self._computing():
            subjects = self.subjects_for(request)
            prompt = self.encode_prompt(request.prompt)
            hooks = DenoiseHooks(progress=progress, cancel=cancel, on_routing=routing, blend=blend)
            latents = self.generate(prompt, request, settings, subjects, hooks)
            image = self.decode(latents, request.height, request.width)
        info = {"settings": settings.as_dict(), "seed": request.seed, "steps": request.steps,
                "seconds": round(time.perf_counter() - started, 3), "engine": self.describe()}
        maps = None
        if routing is not None and subjects is not None:
            maps = routing.images(request.height, request.width, None if subjects.allow is None else subjects.allow[0])
            if maps is None:
                info["routing_maps"] = "none: the router was off and no character had a box"
        return RenderResult(to_image(image), maps, info, latents=latents.float().cpu().numpy())

    @contextmanager
    def _computing(self) -> Iterator[None]:
        """One render at a time, without autograd, with this configuration's CPU threads."""
        with self._lock, torch.no_grad():
            threads = torch.get_num_threads()
            if self._cpu_threads:
                torch.set_num_threads(self._cpu_threads)
            try:
                yield
            finally:
                torch.set_num_threads(threads)

    def encode_prompt(self, prompt: str) -> Prompt:
        """The prompt's embeddings, from the in-memory cache when this engine encoded it before."""
        c = self.components

        def encode() -> Prompt:
            embeds, pooled, ids = c.pipe.encode_prompt(prompt, prompt_2=None, device=c.device,
                                                       max_sequence_length=self.text_tokens)
            return Prompt(embeds, pooled, ids)

        return self.prompts.get((prompt, self.fingerprint, self.text_tokens), encode)

    def generate(self, prompt: Prompt, request: PanelRequest, settings: AnyStorySettings,
                 subjects: Optional[Subjects], hooks: Optional[DenoiseHooks] = None,
                 latents: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Denoise from `latents` (default: noise from request.seed); returns packed latents."""
        c = self.components
        pipe = c.pipe
        if latents is None:
            latents = initial_latents(pipe, request.height, request.width, request.seed, c.device, c.dtype)
        ids = image_ids(pipe, request.height, request.width, c.device, c.dtype)
        plans = plan_steps(request.steps, settings, 0 if subjects is None else subjects.count)
        return denoise(self.model, pipe.scheduler.config, latents=latents, image_ids=ids, prompt=prompt,
                       guidance=request.guidance, plans=plans, subjects=subjects, settings=settings, hooks=hooks)

    def decode(self, latents: torch.Tensor, height: int, width: int) -> np.ndarray:
        """Packed latents -> (height, width, 3) float image in [0, 1]."""
        c = self.components
        with vae_tiling(c.pipe.vae, height, width):
            return decode(c.pipe, latents, height, width)

    def subject_tensors(self, encoding: SubjectEncoding, name: str = "subject") -> dict[str, torch.Tensor]:
        """An encoding's arrays as device tensors, after checking it was made by this generator."""
        if encoding.fingerprint != self.fingerprint:
            raise EngineError(f"the encoding of {name} was made by another engine configuration "
                              f"({encoding.fingerprint}, this is {self.fingerprint}); encode the character again")
        missing = [k for k in ENCODING_KEYS if k not in encoding.tensors]
        if missing:
            raise EngineError(f"the encoding of {name} lacks {', '.join(missing)}; encode the character again")
        c = self.components
        return {k: torch.from_numpy(np.asarray(encoding.tensors[k])).to(c.device, c.dtype) for k in ENCODING_KEYS}

    def subjects_for(self, request: PanelRequest) -> Optional[Subjects]:
        """The request's subjects as device tensors, with the boxes as allowed token sets."""
        subjects = stack_subjects([self.subject_tensors(s.encoding, s.name) for s in request.subjects])
        if subjects is not None:
            boxes = [s.box for s in request.subjects]
            subjects.allow = box_allow(boxes, request.height, request.width, self.components.device)
        return subjects


def _check_subject(image: Any, mask: Any) -> None:
    if not isinstance(image, Image.Image) or not isinstance(mask, Image.Image):
        raise EngineError("encode_subject needs a PIL picture and a PIL mask")
    if image.size != mask.size:
        raise EngineError(f"the mask ({mask.size[0]}x{mask.size[1]}) must have the picture's size "
                          f"({image.size[0]}x{image.size[1]})")
    if not np.asarray(mask.convert("L")).any():
        raise EngineError("the character's mask is empty: segment the character first")


def _check_request(request: PanelRequest) -> None:
    for label, value in (("width", request.width), ("height", request.height)):
        if not (isinstance(value, int) and 64 <= value <= 4096 and value % 16 == 0):
            raise EngineError(f"panel {label} must be a multiple of 16 between 64 and 4096, not {value}")
    if not (isinstance(request.steps, int) and 1 <= request.steps <= 200):
        raise EngineError(f"steps must be a whole number from 1 to 200, not {request.steps}")
    if not 0 <= request.seed < 2 ** 63:
        raise EngineError(f"seed must be a non-negative whole number, not {request.seed}")
    if request.guidance < 0:
        raise EngineError(f"guidance must not be negative, not {request.guidance}")
