"""Choosing and building the panel backend from flags and environment variables.

`EngineConfig.from_env()` reads `ANYSTORY_*` variables; launch.py overrides them with flags.
`resolve_engine` says which backend "auto" means here and why, without importing torch
unless the user asked for the GPU engine.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Callable, Optional

from engine.base import EngineError, Generator
from engine.anystory.memory import CHOICES as MEMORY_CHOICES

ENGINES = ("auto", "draft", "anystory")
EngineFactory = Callable[["EngineConfig"], Generator]
_REGISTERED: dict[str, EngineFactory] = {}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Offer one more engine by name (the tests and benchmarks register their tiny
    random-weight AnyStory configuration this way; users are never offered it)."""
    _REGISTERED[name] = factory


@dataclass
class EngineConfig:
    """Which backend to run and where its weights come from (local folder or hub repo id)."""

    engine: str = "auto"
    flux: str = "black-forest-labs/FLUX.1-dev"
    redux: str = "black-forest-labs/FLUX.1-Redux-dev"
    anystory: str = "Junjie96/AnyStory"
    device: Optional[str] = None
    dtype: str = "bfloat16"
    offload: bool = False
    memory: str = "auto"  # engine.anystory.memory.CHOICES
    compile: Optional[str] = None  # AnyStory: a torch.compile mode for the repeated block math, None: eager

    @classmethod
    def from_env(cls, environ: Optional[dict[str, str]] = None) -> "EngineConfig":
        """Read ANYSTORY_ENGINE, ANYSTORY_FLUX, ANYSTORY_REDUX, ANYSTORY_CHECKPOINT,
        ANYSTORY_DEVICE, ANYSTORY_DTYPE, ANYSTORY_OFFLOAD (1/true), ANYSTORY_MEMORY and
        ANYSTORY_COMPILE."""
        env = os.environ if environ is None else environ
        names = {"anystory": "ANYSTORY_CHECKPOINT"}
        values = {}
        for f in fields(cls):
            raw = env.get(names.get(f.name, f"ANYSTORY_{f.name.upper()}"))
            if raw is None:
                continue
            values[f.name] = raw.lower() in ("1", "true", "yes") if f.name == "offload" else raw
        return cls(**values)


def resolve_engine(config: EngineConfig) -> tuple[str, str]:
    """Return (engine name, reason) for the configured engine; "auto" means draft unless
    the user asked for anystory, because the GPU engine needs tens of GB of weights."""
    if config.engine not in ENGINES and config.engine not in _REGISTERED:
        raise EngineError(f"unknown engine {config.engine!r}; choose one of {', '.join(ENGINES)}")
    if config.memory not in MEMORY_CHOICES:
        raise EngineError(f"unknown memory profile {config.memory!r}; choose one of {', '.join(MEMORY_CHOICES)}")
    if config.engine == "auto":
        return "draft", "draft: the default CPU renderer (start with --engine anystory on a GPU for real panels)"
    return config.engine, f"{config.engine}: chosen by configuration"


def create_generator(config: EngineConfig) -> Generator:
    """Build the backend named by `config` (imports heavy libraries only for GPU engines)."""
    name, _ = resolve_engine(config)
    if name == "draft":
        from engine.draft import DraftGenerator

        return DraftGenerator()
    if name in _REGISTERED:
        return _REGISTERED[name](config)
    from engine.anystory import AnyStoryGenerator

    return AnyStoryGenerator.from_config(config)


@dataclass(frozen=True)
class EngineDescription:
    """What the app may know of an engine before loading it: the advanced settings its
    `Generator.parameters()` gives, and whether it samples (only then do a request's `steps`
    and `guidance` mean anything; the editor hides them otherwise)."""

    parameters: list[dict[str, Any]]
    samples: bool


def describe_engine(name: str) -> Optional[EngineDescription]:
    """The named engine's description, without loading the engine or torch (the AnyStory
    settings are plain Python); None for an engine name this checkout does not know."""
    if name == "draft":
        from engine.draft import DraftGenerator

        return EngineDescription(DraftGenerator.parameters(), samples=DraftGenerator.samples)
    if name in ("anystory", "anystory-tiny"):
        from engine.anystory.params import SAMPLES, describe_params

        return EngineDescription(describe_params(), samples=SAMPLES)
    return None


def engine_parameters(name: str) -> Optional[list[dict[str, Any]]]:
    """What the named engine's `Generator.parameters()` gives (describe_engine), or None."""
    described = describe_engine(name)
    return None if described is None else described.parameters
