"""The render worker: runs queued jobs of one generator, oldest first, one at a time (one
worker per device), in a background thread (the app) or in the foreground (the CLI).

A job is claimed atomically (one IMMEDIATE write transaction moves it from queued to running
and stamps this process's host and pid), so two workers, threads or processes, never run the
same job. While it runs, a heartbeat thread refreshes `heartbeat_at`; progress is written at
most every PROGRESS_WRITE_S; `cancel()` reads the job's `cancel_requested` between steps.

Crash safety: `recover_interrupted` (run when a worker is created) marks "failed" with error
"interrupted" the running jobs whose worker is gone: its pid is dead on this host, or its
heartbeat is older than STALE_AFTER_S (another host, or a reused pid).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Collection, Optional

from sqlalchemy import select, update

from engine.base import EngineError, Generator, RenderCancelled, RenderResult
from story import queue
from story.encodings import EncodingCache
from story.errors import StudioError
from story.models import Panel, Render, utcnow
from story.quality_job import render_job, result_columns
from story.render_request import BuiltRequest, build_request
from story.routing_maps import maps_image
from story.studio import Studio
from story.views import RenderView

log = logging.getLogger(__name__)

HOST = socket.gethostname()
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0
PROGRESS_WRITE_S = 0.5
RENDER_PNG_LEVEL = 1
"""zlib level of stored renders: half the encoding time of the default for ~1.4x the bytes."""
INTERRUPTED = "interrupted"
ProgressListener = Callable[[int, float], None]
"""listener(render_id, fraction done 0..1), called on every engine step (in the worker's thread)."""


def pid_alive(pid: int) -> bool:
    """True when a process with this pid runs on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _worker_gone(row: Render, now: datetime, stale_after_s: float) -> bool:
    if row.worker_host == HOST and row.worker_pid is not None and not pid_alive(row.worker_pid):
        return True
    last_sign = row.heartbeat_at or row.started_at or row.created_at
    return now - last_sign > timedelta(seconds=stale_after_s)


def recover_interrupted(studio: Studio, *, stale_after_s: float = STALE_AFTER_S) -> list[int]:
    """Fail ("interrupted") the running jobs whose worker died; return their ids."""
    now = utcnow()
    with studio.db.write() as session:
        rows = session.scalars(select(Render).where(Render.status == "running")).all()
        gone = [row for row in rows if _worker_gone(row, now, stale_after_s)]
        for row in gone:
            row.status, row.error, row.finished_at = "failed", INTERRUPTED, now
        return [row.id for row in gone]


class _Heartbeat:
    """Refreshes a running job's heartbeat from a thread until stopped."""

    def __init__(self, studio: Studio, render_id: int, interval_s: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(studio, render_id, interval_s), name=f"heartbeat-{render_id}", daemon=True
        )

    def _beat(self, studio: Studio, render_id: int, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            with studio.db.write() as session:
                session.execute(update(Render).where(Render.id == render_id, Render.status == "running")
                                .values(heartbeat_at=utcnow()))

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


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
            with self.worker.studio.db.write() as session:
                session.execute(update(Render).where(Render.id == self.render_id)
                                .values(progress=fraction, heartbeat_at=utcnow()))

    def cancel(self) -> bool:
        with self.worker.studio.db.read() as session:
            if session.scalar(select(Render.cancel_requested).where(Render.id == self.render_id)):
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
        self.recovered = recover_interrupted(studio)

    def claim(self) -> Optional[int]:
        """Take the oldest queued job of this engine (atomically); None when there is none."""
        now = utcnow()
        with self.studio.db.write() as session:
            job_id = session.scalar(
                select(Render.id).where(Render.status == "queued", Render.engine == self.generator.name)
                .order_by(Render.id).limit(1)
            )
            if job_id is None:
                return None
            claimed = session.execute(
                update(Render).where(Render.id == job_id, Render.status == "queued").values(
                    status="running", worker_host=HOST, worker_pid=os.getpid(), heartbeat_at=now,
                    started_at=now, progress=0.0, fingerprint=self.generator.fingerprint,
                )
            ).rowcount
            return job_id if claimed == 1 else None

    def run_one(self) -> Optional[RenderView]:
        """Claim and run one job; return it finished, or None when nothing was queued."""
        job_id = self.claim()
        if job_id is None:
            return None
        with _Heartbeat(self.studio, job_id, self.heartbeat_s):
            self._run(job_id)
        return queue.jobs(self.studio, [job_id])[0]

    def _run(self, job_id: int) -> None:
        control = _JobControl(self, job_id)
        with self.studio.db.read() as session:
            job = session.get(Render, job_id)
            params, seed = dict(job.params), job.seed
        started = time.perf_counter()
        try:
            built = build_request(self.studio, self.cache, params, seed)
            encoded = time.perf_counter()
            result = render_job(self.studio, self.generator, job_id, built, control.progress, control.cancel)
            rendered = time.perf_counter()
            timings = {"encode_ms": (encoded - started) * 1e3, "render_ms": (rendered - encoded) * 1e3}
            self._store(job_id, params, built, result, timings)
        except RenderCancelled:
            self._end(job_id, "queued" if control.stopped_by_worker else "cancelled")
        except (StudioError, EngineError) as exc:
            self._end(job_id, "failed", str(exc))
        except Exception as exc:  # an engine bug must fail its job, not the worker
            log.exception("render %s failed", job_id)
            self._end(job_id, "failed", f"{type(exc).__name__}: {exc}")
        except BaseException:  # Ctrl-C in the CLI: the job did not finish
            self._end(job_id, "failed", INTERRUPTED)
            raise

    def _end(self, job_id: int, status: str, error: Optional[str] = None) -> None:
        """Finish a job that produced nothing (back to queued when the worker is stopping)."""
        finished = None if status == "queued" else utcnow()
        started = {"started_at": None, "worker_host": None, "worker_pid": None} if status == "queued" else {}
        with self.studio.db.write() as session:
            session.execute(update(Render).where(Render.id == job_id).values(
                status=status, error=error, finished_at=finished, **started,
            ))

    def _store(self, job_id: int, params: dict, built: BuiltRequest, result: RenderResult,
               timings: dict[str, float]) -> None:
        """Keep the image (and maps) in the asset store, then commit the finished row."""
        begin = time.perf_counter()
        image_hash = self.studio.assets.put_image(result.image, RENDER_PNG_LEVEL)
        notes = list(built.notes)
        maps_hash = None
        if result.routing_maps:
            try:
                maps_hash = self.studio.assets.put_image(maps_image(result.routing_maps, result.image.size), RENDER_PNG_LEVEL)
            except ValueError as exc:
                notes.append(f"The routing maps were not kept: {exc}.")
        quality = result_columns(self.studio, result, timings)
        timings["store_ms"] = (time.perf_counter() - begin) * 1e3
        params = {**params, "composed_prompt": built.request.prompt, "subjects": built.subjects}
        with self.studio.db.write() as session:
            job = session.get(Render, job_id)
            job.status, job.progress, job.finished_at = "done", 1.0, utcnow()
            job.image_hash, job.routing_maps_hash, job.notes = image_hash, maps_hash, "\n".join(notes)
            job.params, job.timings = params, {k: round(v, 1) for k, v in timings.items()}
            job.likeness, job.latents_hash = quality["likeness"], quality["latents_hash"]
            panel = session.get(Panel, job.panel_id)
            current = panel.selected_render_id
            if current is None or (params.get("select") and current == params.get("selected_before")):
                # selecting is not a content edit: the panel's version stays, so an edit the
                # writer has open is not made stale by a render finishing; the panel takes the
                # render's seed, so rendering it again repeats the look the story uses
                session.execute(update(Panel).where(Panel.id == panel.id).values(selected_render_id=job_id, seed=job.seed))

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
