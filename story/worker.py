"""The render worker: runs queued jobs of one generator, oldest first, one at a time (one
worker per device), in a background thread (the app) or in the foreground (the CLI).

Claiming, progress, heartbeat, cancel and committing a result are story/render_jobs.py's,
shared with the Ray dispatcher (story/dispatcher.py), which runs the same jobs on a cluster.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Collection, Optional

from engine.base import EngineError, Generator, RenderCancelled
from story import queue
from story.encodings import EncodingCache
from story.errors import StudioError
from story.render_jobs import (
    HEARTBEAT_S, INTERRUPTED, PROGRESS_WRITE_S, FinishedRender, Heartbeat, cancel_requested, claim_next,
    commit_result, end_job, job_snapshot, recover_interrupted, write_progress,
)
from story.quality_job import render_job
from story.render_request import build_request
from story.studio import Studio
from story.views import RenderView

log = logging.getLogger(__name__)

ProgressListener = Callable[[int, float], None]
"""listener(render_id, fraction done 0..1), called on every engine step (in the worker's thread)."""


class _JobControl:
    """The progress and cancel callbacks the engine gets for one job."""

    def __init__(self, worker: "Worker", render_id: int) -> None:
        self.worker, self.render_id = worker, render_id
        self.stopped_by_worker = False
        self._last_write = 0.0

    def progress(self, step: int, total: int) -> None:
        fraction = min(1.0, max(0.0, step / total)) if total > 0 else 0.0
        if self.worker.listener is not None:
            self.worker.listener(self.render_id, fraction)
        now = time.monotonic()
        if now - self._last_write >= PROGRESS_WRITE_S:
            self._last_write = now
            write_progress(self.worker.studio, self.render_id, fraction)

    def cancel(self) -> bool:
        if cancel_requested(self.worker.studio, (self.render_id,)):
            return True
        self.stopped_by_worker = self.worker.stopping
        return self.stopped_by_worker


class Worker:
    """Runs the queued jobs of `generator.name` with `generator`."""

    def __init__(self, studio: Studio, generator: Generator, *, listener: Optional[ProgressListener] = None,
                 poll_s: float = 1.0, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.studio, self.generator, self.listener = studio, generator, listener
        self.cache = EncodingCache(studio, generator)
        self.poll_s, self.heartbeat_s = poll_s, heartbeat_s
        self.stopping = False
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        recover_interrupted(studio)

    def claim(self) -> Optional[int]:
        """Take the oldest queued job of this engine (atomically); None when there is none."""
        return claim_next(self.studio, self.generator.name, self.generator.fingerprint)

    def run_one(self) -> Optional[RenderView]:
        """Claim and run one job; return it finished, or None when nothing was queued."""
        job_id = self.claim()
        if job_id is None:
            return None
        with Heartbeat(self.studio, lambda: (job_id,), self.heartbeat_s):
            self._run(job_id)
        return queue.jobs(self.studio, [job_id])[0]

    def _run(self, job_id: int) -> None:
        control = _JobControl(self, job_id)
        params, seed, panel_id = job_snapshot(self.studio, job_id)
        started = time.perf_counter()
        try:
            built = build_request(self.studio, self.cache, params, seed, panel_id)
            encoded = time.perf_counter()
            result = render_job(self.studio, self.generator, job_id, built, control.progress, control.cancel)
            rendered = time.perf_counter()
            timings = {"encode_ms": (encoded - started) * 1e3, "render_ms": (rendered - encoded) * 1e3}
            commit_result(self.studio, job_id, params, FinishedRender(result, built, timings))
        except RenderCancelled:
            end_job(self.studio, job_id, "queued" if control.stopped_by_worker else "cancelled")
        except (StudioError, EngineError) as exc:
            end_job(self.studio, job_id, "failed", str(exc))
        except Exception as exc:  # an engine bug must fail its job, not the worker
            log.exception("render %s failed", job_id)
            end_job(self.studio, job_id, "failed", f"{type(exc).__name__}: {exc}")
        except BaseException:  # Ctrl-C in the CLI: the job did not finish
            end_job(self.studio, job_id, "failed", INTERRUPTED)
            raise

    def run_pending(self, render_ids: Optional[Collection[int]] = None) -> None:
        """Run jobs in the foreground until none is queued or, given `render_ids`, until all of
        those have finished (waiting for another worker that runs some of them)."""
        watched = list(render_ids) if render_ids is not None else None
        try:
            while True:
                if self.run_one() is not None:
                    continue
                if watched is None or all(job.finished for job in queue.jobs(self.studio, watched)):
                    return
                time.sleep(min(self.poll_s, 0.2))
        except KeyboardInterrupt:
            if watched is not None:
                queue.request_cancel_all(self.studio, watched)
            raise

    def start(self) -> None:
        """Run jobs in a background thread until `stop()`."""
        if self._thread is not None:
            raise RuntimeError("the worker is already running")
        self.stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"render-worker-{self.generator.name}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for new jobs now (call after enqueueing)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self.stopping:
            try:
                if self.run_one() is not None:
                    continue
            except Exception:  # the database was busy beyond its timeout: keep serving
                log.exception("render worker: could not run a job")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop the background thread; a job it was running goes back to the queue."""
        self.stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
