"""Helpers for render-queue tests and the render benchmark: characters with pictures, and
small real generators built on the draft engine (counting, blocking, failing, slow)."""
from __future__ import annotations

import sys
import threading
import time
from typing import Optional

from engine.base import EngineError, PanelRequest, RenderResult, SubjectEncoding
from engine.draft import DraftGenerator
from story import characters
from story.studio import Studio
from tests.draft_helpers import figure


def set_picture(studio: Studio, project_id: int, character_id: int, colour: tuple[int, int, int]) -> None:
    """Give a character a new picture through the picture service (its version goes up):
    a figure in `colour` on white with its exact mask."""
    characters.set_character_picture(studio, project_id, character_id, *figure(colour, width=120, height=240))


def add_pictured_character(studio: Studio, project_id: int, name: str, colour: tuple[int, int, int],
                           **fields) -> int:
    """Add a character with a picture; return its id."""
    picture, mask = figure(colour, width=120, height=240)
    return characters.add_character(studio, project_id, name, image=picture, mask=mask, **fields).id


class CountingGenerator(DraftGenerator):
    """The draft engine, counting its `encode_subject` calls."""

    name = "counting"

    def __init__(self) -> None:
        self.encode_calls = 0

    def encode_subject(self, image, mask) -> SubjectEncoding:
        self.encode_calls += 1
        return super().encode_subject(image, mask)


class BlockingGenerator(DraftGenerator):
    """Stops after its first step until `release` is set (to cancel a job mid-render)."""

    name = "blocking"

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def render(self, request: PanelRequest, progress=None, cancel=None) -> RenderResult:
        def gated(step: int, total: int) -> None:
            if progress is not None:
                progress(step, total)
            if step == 1:
                self.started.set()
                self.release.wait(10)

        return super().render(request, gated, cancel)


class FailingGenerator(DraftGenerator):
    """Fails every render with an engine error."""

    name = "failing"
    message = "CUDA out of memory while rendering"

    def render(self, request: PanelRequest, progress=None, cancel=None) -> RenderResult:
        raise EngineError(self.message)


class SlowGenerator(DraftGenerator):
    """The draft engine, sleeping `delay_s` after each step."""

    name = "slow"

    def __init__(self, delay_s: float = 0.5) -> None:
        self.delay_s = delay_s

    def render(self, request: PanelRequest, progress=None, cancel=None) -> RenderResult:
        def slowly(step: int, total: int) -> None:
            if progress is not None:
                progress(step, total)
            time.sleep(self.delay_s)

        return super().render(request, slowly, cancel)


def run_worker(data_dir: str, engine: str, delay_s: Optional[float] = None) -> None:
    """Entry point of a worker subprocess: run the queued jobs of `engine`, then exit."""
    from story.worker import Worker

    generator = SlowGenerator(delay_s) if engine == "slow" else DraftGenerator()
    Worker(Studio.open(data_dir), generator).run_pending()


if __name__ == "__main__":
    run_worker(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else None)


def tiny_anystory_engine():
    """The tiny AnyStory engine, built where it is called: a Ray actor imports torch only here,
    after it has lifted Ray's one-thread limit (the encoder's last bits depend on the threads)."""
    from engine.anystory import AnyStoryGenerator

    return AnyStoryGenerator.tiny(device="cpu")
