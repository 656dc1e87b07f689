"""The render actor of a Ray cluster: one per GPU (or CPU slot), holding one loaded generator.

It knows nothing of the database or the asset store (only the dispatcher, story/dispatcher.py,
touches those): it gets an `ActorJob` (the generator request plus, per character, the encoding
key and whichever of the encoding or the pictures it lacks), keeps the subject encodings it
was sent or computed in memory keyed as story/encodings.py keys them, and answers with an
`ActorOutcome` (the image as the asset store's PNG, routing maps, the encodings it computed,
the keys it now holds).

The class is plain Python; story/cluster.py turns it into a Ray actor with two threads, so
`state()` and `cancel()` are answered while `run()` renders (cancel acts between steps).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from PIL import Image

from engine.base import (Box, EngineError, Generator, PanelRequest, RenderCancelled, RenderResult, SubjectEncoding,
                         SubjectInput)
from engine.likeness import likeness_report
from engine.region import RegionRedo, render_region
from story.assets import png_bytes

log = logging.getLogger(__name__)

Key = tuple[int, int, str]
"""(character id, character version, engine fingerprint), as the encoding cache keys them."""
MEMORY_ITEMS = 64
"""Encodings an actor keeps (it tells the dispatcher which, after every job)."""


class ActorRestarted(Exception):
    """The actor lost what the dispatcher believed it held: the job is run again elsewhere."""


@dataclass
class ActorSubject:
    """One character of a job: its key, and the encoding or the pictures when the actor lacks it."""

    name: str
    box: Optional[Box]
    key: Key
    encoding: Optional[SubjectEncoding] = None
    picture: Optional[tuple[Image.Image, Image.Image]] = None


@dataclass
class ActorJob:
    """A render job as sent to an actor: `request.subjects` is filled in on the actor; the
    image comes back as PNG at `png_level` (the asset store's encoding, done on the actor).
    `references`: the characters' cut-outs (picture, mask) the likeness check compares the
    render with; `region`: the original render and region of a region redo."""

    job_id: int
    request: PanelRequest
    subjects: list[ActorSubject]
    png_level: int
    references: list[tuple[Image.Image, Image.Image]] = field(default_factory=list)
    region: Optional[RegionRedo] = None


@dataclass
class ActorOutcome:
    """What an actor answers: status "done", "cancelled", "failed" (with `error`), or
    "restarted" (it lost the encodings it was believed to hold: run the job again)."""

    job_id: int
    status: str
    png: Optional[bytes] = None
    routing_maps: Optional[list[np.ndarray]] = None
    info: dict = field(default_factory=dict)
    latents: Optional[np.ndarray] = None
    error: Optional[str] = None
    encoded: dict[Key, SubjectEncoding] = field(default_factory=dict)
    held: list[Key] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _embed(embedder: Any, pictures: list[tuple[Image.Image, Image.Image]]) -> np.ndarray:
    """The cut-outs' embeddings (none for a panel without characters)."""
    return embedder.embed(pictures) if pictures else np.zeros((0, 1), np.float32)


class RenderActor:
    """Renders jobs with the generator `factory()` builds once (a restarted actor builds it again)."""

    def __init__(self, factory: Callable[[], Generator], memory_items: int = MEMORY_ITEMS) -> None:
        # Ray pins a 1-CPU actor to one OpenMP thread; the engine picks its own threads, as in
        # the worker (a CPU encoder's kernels, and so its last bits, depend on the thread count)
        if os.environ.get("OMP_NUM_THREADS") == "1" and "RAY_RAYLET_PID" in os.environ:
            del os.environ["OMP_NUM_THREADS"]
        self.generator = factory()
        self.memory_items = memory_items
        self._memory: OrderedDict[Key, SubjectEncoding] = OrderedDict()
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()
        self._job: Optional[int] = None
        self._fraction = 0.0
        self.jobs_done = 0
        self.encodes = 0

    def identity(self) -> dict:
        """Engine name, fingerprint and description, and where this actor runs."""
        import ray

        return {
            "engine": self.generator.name, "fingerprint": self.generator.fingerprint,
            "describe": self.generator.describe(), "host": socket.gethostname(), "pid": os.getpid(),
            "gpus": [str(g) for g in ray.get_gpu_ids()],
        }

    def state(self) -> dict:
        """What the actor is doing: the job it renders and how far, and its counters."""
        with self._lock:
            return {"pid": os.getpid(), "job_id": self._job, "fraction": self._fraction,
                    "jobs_done": self.jobs_done, "encodes": self.encodes, "held": len(self._memory)}

    def cancel(self, job_id: int) -> None:
        """Stop `job_id` at the engine's next step (or before it starts)."""
        with self._lock:
            self._cancelled.add(job_id)

    def run(self, job: ActorJob) -> ActorOutcome:
        """Encode what is missing, render, and say what happened (never raises for a bad job)."""
        with self._lock:
            self._job, self._fraction = job.job_id, 0.0
        outcome = ActorOutcome(job.job_id, "done")
        try:
            started = time.perf_counter()
            subjects = [SubjectInput(s.name, self._encoding(s, outcome), s.box) for s in job.subjects]
            encoded = time.perf_counter()
            # routing maps always: the likeness check compares the regions the characters went to
            request = PanelRequest(**{**job.request.__dict__, "subjects": subjects, "return_routing_maps": True})
            result = self._render(job, request)
            rendered = time.perf_counter()
            outcome.png, outcome.latents = png_bytes(result.image, job.png_level), result.latents
            outcome.routing_maps = result.routing_maps if job.request.return_routing_maps else None
            outcome.info = {**result.info, "likeness": likeness_report(
                self.generator, result, request, lambda embedder: _embed(embedder, job.references))}
            outcome.timings = {"encode_ms": (encoded - started) * 1e3, "render_ms": (rendered - encoded) * 1e3,
                               "png_ms": (time.perf_counter() - rendered) * 1e3}
        except RenderCancelled:
            outcome.status = "cancelled"
        except ActorRestarted as exc:
            outcome.status, outcome.error = "restarted", str(exc)
        except EngineError as exc:
            outcome.status, outcome.error = "failed", str(exc)
        except Exception as exc:  # an engine bug must fail its job, not the actor
            log.exception("render %s failed", job.job_id)
            outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._job = None
            self._cancelled.discard(job.job_id)
            self.jobs_done += outcome.status == "done"
            outcome.held = list(self._memory)
        return outcome

    def _render(self, job: ActorJob, request: PanelRequest) -> RenderResult:
        """The whole panel, or only the region of a region redo (engine/region.py)."""
        def stop() -> bool:
            return self._stop(job.job_id)

        if job.region is not None:
            return render_region(self.generator, request, job.region, self._progress, stop)
        return self.generator.render(request, self._progress, stop)

    def _encoding(self, subject: ActorSubject, outcome: ActorOutcome) -> SubjectEncoding:
        encoding = subject.encoding or self._memory.get(subject.key)
        if encoding is None:
            if subject.picture is None:  # this actor restarted since the dispatcher last heard from it
                raise ActorRestarted(f"the encoding of {subject.name} is no longer kept on this actor")
            made = self.generator.encode_subject(*subject.picture)
            encoding = SubjectEncoding(subject.key[2], made.tensors, dict(made.meta))
            outcome.encoded[subject.key] = encoding
            self.encodes += 1
        with self._lock:
            self._memory[subject.key] = encoding
            self._memory.move_to_end(subject.key)
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)
        return encoding

    def _progress(self, step: int, total: int) -> None:
        with self._lock:
            self._fraction = min(1.0, max(0.0, step / total)) if total > 0 else 0.0

    def _stop(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._cancelled
