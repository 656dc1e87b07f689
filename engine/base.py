"""The Generator interface every panel backend implements, and the plain data it exchanges.

A backend turns a character's prepared picture into a `SubjectEncoding` once per character
version (`encode_subject`), and renders a `PanelRequest` into a `RenderResult`. Encodings are
plain numpy arrays so that the story layer can cache them on disk without importing torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from engine.box import Box  # noqa: F401  (the box type of SubjectInput; checked by Box.of)

ProgressFn = Callable[[int, int], None]
"""progress(step, total): called as work advances."""

CancelFn = Callable[[], bool]
"""cancel() -> True when the caller wants the render stopped (checked between steps)."""


class EngineError(RuntimeError):
    """A problem the user can act on (missing weights, bad parameters); message is shown as is."""


class RenderCancelled(Exception):
    """Raised by `Generator.render` when `cancel()` returned True between two steps."""


@dataclass
class SubjectEncoding:
    """What a backend keeps of one character version: named arrays plus string metadata.

    `fingerprint` is the producing generator's fingerprint; an encoding is only valid for
    a generator with the same fingerprint.
    """

    fingerprint: str
    tensors: dict[str, np.ndarray]
    meta: dict[str, str] = field(default_factory=dict)


@dataclass
class SubjectInput:
    """One character in a panel: its encoding and an optional box it should stay within."""

    name: str
    encoding: SubjectEncoding
    box: Optional[Box] = None


@dataclass
class PanelRequest:
    """Everything a backend needs to render one panel.

    `prompt` is already composed (character references expanded, style applied).
    `params` holds backend-specific advanced settings; unknown keys are rejected by the backend.
    """

    prompt: str
    subjects: list[SubjectInput] = field(default_factory=list)
    seed: int = 0
    width: int = 768
    height: int = 768
    steps: int = 25
    guidance: float = 3.5
    params: dict[str, Any] = field(default_factory=dict)
    return_routing_maps: bool = False


@dataclass
class RenderResult:
    """A rendered panel. `routing_maps[i]` (H x W float32 in [0, 1], image size) says where
    subject i went, when the request asked for maps and the backend can give them. `latents`:
    the final latents of a latent-space backend (kept so one region can be redone later)."""

    image: Image.Image
    routing_maps: Optional[list[np.ndarray]] = None
    info: dict[str, Any] = field(default_factory=dict)
    latents: Optional[np.ndarray] = None


@runtime_checkable
class Generator(Protocol):
    """A panel backend (see engine/draft.py and engine/anystory/). Its class attribute `samples`
    says whether it samples: where it does not (the draft), a request's `steps` and `guidance`
    mean nothing and the editor hides them (engine.registry.describe_engine)."""

    name: str

    @property
    def fingerprint(self) -> str:
        """Backend and model identity; part of every cache key."""

    def describe(self) -> str:
        """One line for the status page, e.g. 'draft: no GPU' or 'anystory on cuda'."""

    @staticmethod
    def parameters() -> list[dict[str, Any]]:
        """The advanced settings `PanelRequest.params` takes, as plain data for the UI: per
        setting name, type ("float", "int" or "bool"), default, default_multi (the default with
        several characters, or None), minimum, maximum (None without bounds) and help. An
        engine without settings returns []. Static: asked before the engine is loaded
        (engine.registry.engine_parameters)."""

    def encode_subject(self, image: Image.Image, mask: Image.Image) -> SubjectEncoding:
        """Encode a prepared subject picture (RGB, background white) and its mask (mode L)."""

    def render(
        self,
        request: PanelRequest,
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelFn] = None,
    ) -> RenderResult:
        """Render one panel; raise RenderCancelled when cancel() turns True between steps."""


def check_cancel(cancel: Optional[CancelFn]) -> None:
    """Raise RenderCancelled when the caller asked to stop."""
    if cancel is not None and cancel():
        raise RenderCancelled("render cancelled")
