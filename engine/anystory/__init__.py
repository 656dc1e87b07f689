"""The AnyStory engine: FLUX.1-dev + FLUX.1-Redux-dev + the published AnyStory checkpoint.

Importing this package is cheap: torch, diffusers and transformers load only when
`AnyStoryGenerator` is first used (engine.anystory.params is plain Python for the UI).
"""
from __future__ import annotations

from typing import Any

__all__ = ["AnyStoryGenerator"]


def __getattr__(name: str) -> Any:
    if name == "AnyStoryGenerator":
        from engine.anystory.generator import AnyStoryGenerator

        return AnyStoryGenerator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
