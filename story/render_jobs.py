"""The life of one render job in the database, shared by the in-process worker (story/worker.py)
and the Ray dispatcher (story/dispatcher.py): claim, progress, heartbeat, cancel, end, commit.

A job is claimed atomically (one IMMEDIATE write transaction moves it from queued to running
and stamps this process's host and pid), so two workers, threads or processes, never run the
same job. While it runs, a heartbeat thread refreshes `heartbeat_at`; progress is written at
most every PROGRESS_WRITE_S; the engine's cancel callback reads `cancel_requested`.

`commit_result` is the one place a finished render is kept (asset store, then one transaction):
anything that must happen to every finished render belongs there.

Crash safety: `recover_interrupted` (run when a worker or dispatcher starts) marks "failed"
with error "interrupted" the running jobs whose process is gone: its pid is dead on this host,
or its heartbeat is older than STALE_AFTER_S (another host, or a reused pid).
"""
from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Collection, Optional

from sqlalchemy import select, update

from engine.base import RenderResult
from story.models import Panel, Render, utcnow
from story.quality_job import result_columns
from story.render_request import BuiltRequest
from story.routing_maps import maps_image
from story.studio import Studio

HOST = socket.gethostname()
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0
PROGRESS_WRITE_S = 0.5
RENDER_PNG_LEVEL = 1
"""zlib level of stored renders: half the encoding time of the default for ~1.4x the bytes."""
INTERRUPTED = "interrupted"


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
    """No process works on this running job: none claimed it, its pid is dead on this host,
    or its last sign of life is stale (or from a future no clock should be in)."""
    if row.worker_host is None or (row.worker_host == HOST and row.worker_pid is not None and not pid_alive(row.worker_pid)):
        return True
    last_sign = row.heartbeat_at or row.started_at or row.created_at
    return abs(now - last_sign) > timedelta(seconds=stale_after_s)


def recover_interrupted(studio: Studio, *, stale_after_s: float = STALE_AFTER_S) -> list[int]:
    """Fail ("interrupted") the running jobs whose worker died; return their ids."""
    now = utcnow()
    with studio.db.write() as session:
        rows = session.scalars(select(Render).where(Render.status == "running")).all()
        gone = [row for row in rows if _worker_gone(row, now, stale_after_s)]
        for row in gone:
            row.status, row.error, row.finished_at = "failed", INTERRUPTED, now
        return [row.id for row in gone]


def claim_next(studio: Studio, engine: str, fingerprint: str, *, only: Optional[int] = None) -> Optional[int]:
    """Take the oldest queued job of `engine` (or job `only`) for this process, atomically;
    None when there is none."""
    now = utcnow()
    with studio.db.write() as session:
        query = select(Render.id).where(Render.status == "queued", Render.engine == engine)
        if only is not None:
            query = query.where(Render.id == only)
        job_id = session.scalar(query.order_by(Render.id).limit(1))
        if job_id is None:
            return None
        claimed = session.execute(
            update(Render).where(Render.id == job_id, Render.status == "queued").values(
                status="running", worker_host=HOST, worker_pid=os.getpid(), heartbeat_at=now,
                started_at=now, progress=0.0, fingerprint=fingerprint,
            )
        ).rowcount
        return job_id if claimed == 1 else None


def job_snapshot(studio: Studio, job_id: int) -> tuple[dict[str, Any], int, int]:
    """The (params, seed, panel id) a claimed job renders."""
    with studio.db.read() as session:
        job = session.get_one(Render, job_id)
        return dict(job.params), job.seed, job.panel_id


def end_job(studio: Studio, job_id: int, status: str, error: Optional[str] = None) -> None:
    """Finish a job that produced nothing (status "queued" puts it back for another worker)."""
    finished = None if status == "queued" else utcnow()
    started = {"started_at": None, "worker_host": None, "worker_pid": None} if status == "queued" else {}
    with studio.db.write() as session:
        session.execute(update(Render).where(Render.id == job_id).values(
            status=status, error=error, finished_at=finished, **started,
        ))


def write_progress(studio: Studio, job_id: int, fraction: float) -> None:
    """Store how far a running job is (also a sign of life)."""
    with studio.db.write() as session:
        session.execute(update(Render).where(Render.id == job_id).values(progress=fraction, heartbeat_at=utcnow()))


def cancel_requested(studio: Studio, job_ids: Collection[int]) -> set[int]:
    """Which of these jobs the writer asked to cancel."""
    with studio.db.read() as session:
        return set(session.scalars(select(Render.id).where(Render.id.in_(list(job_ids)), Render.cancel_requested)))


@dataclass
class FinishedRender:
    """A render the engine finished: its result, the request it came from, and the timings."""

    result: RenderResult
    built: BuiltRequest
    timings: dict[str, float]
    png: Optional[bytes] = None
    """The image already encoded as the store keeps it (a cluster actor does that)."""


def commit_result(studio: Studio, job_id: int, params: dict[str, Any], finished: FinishedRender) -> None:
    """Keep a finished render: image (and maps) in the asset store, then in one transaction the
    done row and, when it should be, the panel's selection. The one seam for every result."""
    begin = time.perf_counter()
    result, built = finished.result, finished.built
    if finished.png is not None:
        image_hash = studio.assets.put_bytes(finished.png)
    else:
        image_hash = studio.assets.put_image(result.image, RENDER_PNG_LEVEL)
    notes = list(built.notes)
    maps_hash = None
    if result.routing_maps:
        try:
            maps_hash = studio.assets.put_image(maps_image(result.routing_maps, result.image.size), RENDER_PNG_LEVEL)
        except ValueError as exc:
            notes.append(f"The routing maps were not kept: {exc}.")
    quality = result_columns(studio, result, finished.timings)
    timings = {**finished.timings, "store_ms": (time.perf_counter() - begin) * 1e3}
    params = {**params, "composed_prompt": built.request.prompt, "subjects": built.subjects}
    with studio.db.write() as session:
        job = session.get_one(Render, job_id)
        job.status, job.progress, job.finished_at = "done", 1.0, utcnow()
        job.image_hash, job.routing_maps_hash, job.notes = image_hash, maps_hash, "\n".join(notes)
        job.params, job.timings = params, {k: round(v, 1) for k, v in timings.items()}
        job.likeness, job.latents_hash = quality["likeness"], quality["latents_hash"]
        panel = session.get_one(Panel, job.panel_id)
        current = panel.selected_render_id
        if current is None or (params.get("select") and current == params.get("selected_before")):
            # selecting is not a content edit: the panel's version stays, so an edit the
            # writer has open is not made stale by a render finishing; the panel takes the
            # render's seed, so rendering it again repeats the look the story uses
            session.execute(update(Panel).where(Panel.id == panel.id).values(selected_render_id=job_id, seed=job.seed))


class Heartbeat:
    """Refreshes the heartbeat of the running jobs `jobs()` names, from a thread, until stopped."""

    def __init__(self, studio: Studio, jobs: Callable[[], Collection[int]], interval_s: float = HEARTBEAT_S) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(studio, jobs, interval_s), name="render-heartbeat", daemon=True
        )

    def _beat(self, studio: Studio, jobs: Callable[[], Collection[int]], interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            ids = list(jobs())
            if not ids:
                continue
            with studio.db.write() as session:
                session.execute(update(Render).where(Render.id.in_(ids), Render.status == "running")
                                .values(heartbeat_at=utcnow()))

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
