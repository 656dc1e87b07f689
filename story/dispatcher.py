"""The dispatcher: runs the SQLite render queue on the render actors of a Ray cluster.

The queue stays the source of truth and this process is the only one that touches the
database and the asset store. It claims jobs as the in-process worker does (story/render_jobs.py),
builds each generator request here, and sends it to a free actor (story/cluster_actor.py) with
the subject encodings that actor does not hold yet, or, for a character nobody has encoded,
its pictures: the actor encodes it once, keeps it, and sends it back to be cached here (a job
that needs an encoding another actor is computing waits for it, so each is computed once).
Progress is polled from the actors and written as the worker writes it; a cancel asked in the
database is forwarded to the actor, which stops between steps; a result is committed by
`render_jobs.commit_result`, in one transaction.

Faults: when an actor dies mid-job (its process killed, its node lost) Ray restarts it; the job
is failed "interrupted" and run again once, automatically, as a new job on another actor (a
retry that dies too stays failed). `retried` maps each interrupted job to its retry.
"""
from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Collection, Optional

from PIL import Image

from engine.base import Generator, RenderResult
from story import queue
from story.cluster import ClusterConfig, ClusterUnreachable, connect, disconnect, start_actors
from story.cluster_actor import ActorJob, ActorOutcome, ActorSubject, Key
from story.encodings import EncodingCache, SubjectSource
from story.errors import StudioError
from story.likeness import reference_pictures
from story.region_redo import redo_for
from story.render_jobs import (
    HEARTBEAT_S, INTERRUPTED, PROGRESS_WRITE_S, RENDER_PNG_LEVEL, FinishedRender, Heartbeat, cancel_requested, claim_next,
    commit_result, end_job, job_snapshot, recover_interrupted, write_progress,
)
from story.render_request import BuiltRequest, build_request
from story.studio import Studio
from story.worker import ProgressListener

log = logging.getLogger(__name__)

TICK_S = 0.05
"""Longest wait for an actor's answer before looking at progress, cancels and the queue."""
STATE_POLL_S = 0.2
IDLE_STATE_POLL_S = 2.0
ACTOR_START_S = 900.0
"""How long the actors may take to load their generator (a FLUX model takes minutes)."""


@dataclass(frozen=True)
class RemoteEngine:
    """The actors' generator as the dispatcher knows it: its name, fingerprint and description."""

    name: str
    fingerprint: str
    description: str

    def describe(self) -> str:
        return self.description


@dataclass
class ActorView:
    """One render actor for the Settings tab and `--json`: where it runs and what it does."""

    index: int
    host: str
    pid: int
    device: str
    doing: str
    job_id: Optional[int]
    progress: float
    rendered: list[int]
    restarts: int
    encodings_made: int
    encodings_held: int


@dataclass
class ClusterView:
    """The cluster, its actors, and the jobs waiting here or retried after a lost actor."""

    address: str
    engine: str
    actors: list[ActorView]
    waiting: list[int]
    retried: dict[int, int]


@dataclass
class _Flight:
    """A job sent to an actor."""

    job_id: int
    params: dict[str, Any]
    built: BuiltRequest
    ref: Any
    computing: list[Key]
    retry: bool
    fraction: float = 0.0
    written_at: float = 0.0
    cancel_sent: bool = False


@dataclass
class _Waiting:
    """A claimed job not sent yet: it needs an encoding being computed, or is a retry."""

    job_id: int
    retry: bool = False
    avoid: Optional[int] = None
    keys: frozenset = frozenset()


@dataclass
class _Slot:
    """One actor handle and what the dispatcher knows of it."""

    index: int
    handle: Any
    host: str = ""
    pid: int = 0
    device: str = "CPU"
    flight: Optional[_Flight] = None
    held: set = field(default_factory=set)
    done: list = field(default_factory=list)
    encoded: int = 0
    restarts: int = 0
    restarting: bool = False
    state_ref: Any = None
    state_at: float = 0.0


class _KnownEncodings:
    """build_request's encoding source here: a cached encoding, else the SubjectSource itself
    (the actor will encode it); records each subject's key in order."""

    def __init__(self, cache: EncodingCache) -> None:
        self.cache, self.keys = cache, []

    def get(self, source: SubjectSource) -> Any:
        self.keys.append(self.cache.key(source))
        return self.cache.lookup(source) or source


class Dispatcher:
    """Runs the queued jobs of the actors' engine on a Ray cluster (same interface as Worker:
    `run_pending` in the foreground, `start`/`wake`/`stop` in the background; `close` at the end)."""

    def __init__(self, studio: Studio, config: ClusterConfig,
                 make_factory: Callable[[bool], Callable[[], Generator]], *,
                 listener: Optional[ProgressListener] = None, poll_s: float = 1.0) -> None:
        self.studio, self.config, self.listener, self.poll_s = studio, config, listener, poll_s
        self._started_here = connect(config)
        try:
            self._slots = [_Slot(i, handle) for i, handle in enumerate(start_actors(config, make_factory))]
            self.generator = self._identify()
        except BaseException:
            self.close()
            raise
        self.cache = EncodingCache(studio, self.generator)
        self.recovered = recover_interrupted(studio)
        self.retried: dict[int, int] = {}
        self.stopping = False
        self._waiting: list[_Waiting] = []
        self._computing: dict[Key, int] = {}
        self._drained_at: Optional[float] = None
        self._wake = threading.Event()
        self._served = threading.Event()
        self._served.set()
        self._thread: Optional[threading.Thread] = None

    def _identify(self) -> RemoteEngine:
        """Wait for every actor to load its generator; all must be the same engine."""
        import ray

        try:
            found = ray.get([slot.handle.identity.remote() for slot in self._slots], timeout=ACTOR_START_S)
        except ray.exceptions.RayError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise ClusterUnreachable(f"The render actors could not start: {reason}") from None
        for slot, identity in zip(self._slots, found):
            slot.host, slot.pid = identity["host"], identity["pid"]
            slot.device = f"GPU {','.join(identity['gpus'])}" if identity["gpus"] else "CPU"
        if len({identity["fingerprint"] for identity in found}) != 1:
            raise ClusterUnreachable("The render actors loaded different models; give every machine the same weights.")
        first = found[0]
        return RemoteEngine(first["engine"], first["fingerprint"], f"{first['describe']} ({len(found)} Ray actors)")

    # --- sending jobs -------------------------------------------------------------------

    def _fill(self) -> None:
        for slot in self._slots:
            if slot.flight is None and not slot.restarting and not self.stopping:
                slot.flight = self._next_job(slot)

    def _next_job(self, slot: _Slot) -> Optional[_Flight]:
        """A waiting job this actor may take, else a newly claimed one (None when none)."""
        for waiting in list(self._waiting):
            lone = len(self._slots) == 1
            if (waiting.avoid == slot.index and not lone) or waiting.keys & self._computing.keys():
                continue
            self._waiting.remove(waiting)
            flight = self._send(slot, waiting.job_id, waiting.retry, waiting.avoid)
            if flight is not None:
                return flight
        while len(self._waiting) <= len(self._slots) and not self._recently_drained():
            job_id = claim_next(self.studio, self.generator.name, self.generator.fingerprint)
            if job_id is None:
                self._drained_at = time.monotonic()
                return None
            flight = self._send(slot, job_id, False, None)
            if flight is not None:
                return flight
        return None

    def _recently_drained(self) -> bool:
        return self._drained_at is not None and time.monotonic() - self._drained_at < self.poll_s

    def _send(self, slot: _Slot, job_id: int, retry: bool, avoid: Optional[int]) -> Optional[_Flight]:
        """Build the job's request and send it to `slot`; None when it failed or must wait."""
        params, seed, panel_id = job_snapshot(self.studio, job_id)
        known = _KnownEncodings(self.cache)
        try:
            built = build_request(self.studio, known, params, seed, panel_id)
            region = redo_for(self.studio, job_id)
        except StudioError as exc:
            end_job(self.studio, job_id, "failed", str(exc))
            return None
        pairs = list(zip(known.keys, built.request.subjects))
        missing = {key for key, subject in pairs if isinstance(subject.encoding, SubjectSource)}
        if missing & self._computing.keys():
            self._waiting.append(_Waiting(job_id, retry, avoid, frozenset(missing)))
            return None
        subjects = [self._subject(slot, key, s.name, s.box, s.encoding) for key, s in pairs]
        for key in missing:
            self._computing[key] = job_id
        references = reference_pictures(self.studio, [s["id"] for s in built.subjects])
        job = ActorJob(job_id, replace(built.request, subjects=[]), subjects, RENDER_PNG_LEVEL, references, region)
        built = replace(built, request=replace(built.request, subjects=[]))
        return _Flight(job_id, params, built, slot.handle.run.remote(job), sorted(missing), retry)

    def _subject(self, slot: _Slot, key: Key, name: str, box: Any, encoding: Any) -> ActorSubject:
        """What the actor needs of one character: nothing but the key when it holds it."""
        if isinstance(encoding, SubjectSource):
            return ActorSubject(name, box, key, picture=self.cache.pictures(encoding))
        return ActorSubject(name, box, key, encoding=None if key in slot.held else encoding)

    # --- answers, faults, progress, cancels ----------------------------------------------

    def _wait(self, wait_s: float) -> None:
        """Collect every job an actor has answered, waiting up to `wait_s` for the first."""
        import ray

        busy = {slot.flight.ref: slot for slot in self._slots if slot.flight is not None}
        if not busy:
            return
        ready, _ = ray.wait(list(busy), num_returns=1, timeout=wait_s)
        if ready:
            ready, _ = ray.wait(list(busy), num_returns=len(busy), timeout=0)
        for ref in ready:
            self._collect(busy[ref])

    def _collect(self, slot: _Slot) -> None:
        import ray

        flight, slot.flight = slot.flight, None
        for key in flight.computing:
            self._computing.pop(key, None)
        try:
            outcome: ActorOutcome = ray.get(flight.ref)
        except ray.exceptions.RayActorError:  # the actor's process or node died mid-job
            slot.held, slot.restarting = set(), True
            self._interrupted(flight, slot)
            return
        if outcome.status == "restarted":
            slot.held = set()
            self._interrupted(flight, slot)
            return
        slot.held = set(outcome.held)
        try:
            self._finish(flight, slot, outcome)
        except Exception as exc:  # the database or the disk failed: the job must not stay running
            log.exception("render %s: could not keep its result", flight.job_id)
            end_job(self.studio, flight.job_id, "failed", f"{type(exc).__name__}: {exc}")

    def _finish(self, flight: _Flight, slot: _Slot, outcome: ActorOutcome) -> None:
        """Store the encodings the actor computed, then end or commit the job."""
        for key, encoding in outcome.encoded.items():
            self.cache.store(key, encoding)
        slot.encoded += len(outcome.encoded)
        if outcome.status == "done":
            result = RenderResult(Image.open(io.BytesIO(outcome.png)), outcome.routing_maps, outcome.info, outcome.latents)
            commit_result(self.studio, flight.job_id, flight.params,
                          FinishedRender(result, flight.built, outcome.timings, outcome.png))
            slot.done.append(flight.job_id)
            if self.listener is not None:
                self.listener(flight.job_id, 1.0)
        elif outcome.status == "cancelled":
            end_job(self.studio, flight.job_id, "cancelled" if flight.cancel_sent else "queued")
        else:
            end_job(self.studio, flight.job_id, "failed", outcome.error)

    def _interrupted(self, flight: _Flight, slot: _Slot) -> None:
        """Fail a job whose actor died; run it again once, on another actor when there is one."""
        end_job(self.studio, flight.job_id, "failed", INTERRUPTED)
        if flight.retry or self.stopping:
            return
        again = queue.retry(self.studio, flight.job_id).id
        self.retried[flight.job_id] = again
        if claim_next(self.studio, self.generator.name, self.generator.fingerprint, only=again) is not None:
            self._waiting.append(_Waiting(again, retry=True, avoid=slot.index))
        log.warning("render %s: actor %s was lost; retrying as render %s", flight.job_id, slot.index, again)

    def _poll_states(self) -> None:
        """Ask each actor what it is doing (often while it renders) and note the answers."""
        import ray

        now = time.monotonic()
        for slot in self._slots:
            if slot.state_ref is not None and ray.wait([slot.state_ref], timeout=0)[0]:
                try:
                    self._observe(slot, ray.get(slot.state_ref))
                except ray.exceptions.RayError:  # dead or restarting: the job's answer says so
                    pass
                slot.state_ref = None
            period = STATE_POLL_S if slot.flight is not None or slot.restarting else IDLE_STATE_POLL_S
            if slot.state_ref is None and now - slot.state_at >= period:
                slot.state_ref, slot.state_at = slot.handle.state.remote(), now

    def _observe(self, slot: _Slot, state: dict) -> None:
        if slot.restarting and state["pid"] == slot.pid:
            return  # an answer from before it died
        slot.restarting = False  # it answered: jobs may go to it again
        if state["pid"] != slot.pid:  # Ray restarted it: it holds no encodings any more
            slot.pid, slot.held = state["pid"], set()
            slot.restarts += 1
        flight = slot.flight
        if flight is None or state["job_id"] != flight.job_id or state["fraction"] == flight.fraction:
            return
        flight.fraction = state["fraction"]
        if self.listener is not None:
            self.listener(flight.job_id, flight.fraction)
        now = time.monotonic()
        if now - flight.written_at >= PROGRESS_WRITE_S:
            flight.written_at = now
            write_progress(self.studio, flight.job_id, flight.fraction)

    def _forward_cancels(self) -> None:
        """Send the writer's cancels to the actors; cancel waiting jobs here."""
        flights = {s.flight.job_id: s for s in self._slots if s.flight is not None and not s.flight.cancel_sent}
        waiting = {w.job_id: w for w in self._waiting}
        if not flights and not waiting:
            return
        for job_id in cancel_requested(self.studio, [*flights, *waiting]):
            if job_id in waiting:
                self._waiting.remove(waiting[job_id])
                end_job(self.studio, job_id, "cancelled")
            else:
                flights[job_id].handle.cancel.remote(job_id)
                flights[job_id].flight.cancel_sent = True

    # --- running ------------------------------------------------------------------------

    def _step(self, wait_s: float) -> bool:
        """One round: collect answers, send jobs to the free actors, poll progress and cancels;
        True when busy."""
        self._wait(wait_s)
        self._fill()
        self._poll_states()
        self._forward_cancels()
        return bool(self._waiting) or any(slot.flight is not None for slot in self._slots)

    def _running(self) -> list[int]:
        return [s.flight.job_id for s in self._slots if s.flight is not None] + [w.job_id for w in self._waiting]

    def _watched_done(self, watched: set[int]) -> bool:
        """True when the watched jobs (and their automatic retries) have all finished."""
        ids = watched | {self.retried[i] for i in watched if i in self.retried}
        return all(job.finished for job in queue.jobs(self.studio, sorted(ids)))

    def run_pending(self, render_ids: Optional[Collection[int]] = None) -> None:
        """Run jobs until none is queued or, given `render_ids`, until those (and their
        automatic retries) have finished."""
        watched = set(render_ids) if render_ids is not None else None
        try:
            with Heartbeat(self.studio, self._running, HEARTBEAT_S):
                while True:
                    if self._step(TICK_S):
                        continue
                    if watched is None and self._drained_at is not None:
                        return
                    if watched is not None and self._watched_done(watched):
                        return
                    self._drained_at = None
                    time.sleep(min(self.poll_s, 0.2))
        except KeyboardInterrupt:
            if watched is not None:
                queue.request_cancel_all(self.studio, sorted(watched))
            for job_id in self._running():
                end_job(self.studio, job_id, "failed", INTERRUPTED)
            raise

    def start(self) -> None:
        """Run jobs in a background thread until `stop()` (see `serve` for a local runtime)."""
        if self._thread is not None:
            raise RuntimeError("the dispatcher is already running")
        self._thread = threading.Thread(target=self.serve, name="render-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for new jobs now (call after enqueueing)."""
        self._drained_at = None
        self._wake.set()

    def serve(self) -> None:
        """Run jobs in this thread until `stop()`. A local runtime dies with the thread that
        started it (Ray ties its processes to that thread), so a dispatcher created in a
        short-lived thread must serve in that same thread."""
        self._served.clear()
        try:
            self._serve()
        finally:
            self.close()  # in this thread, while the local runtime is still up
            self._served.set()

    def _serve(self) -> None:
        with Heartbeat(self.studio, self._running, HEARTBEAT_S):
            while not self.stopping:
                try:
                    if self._step(TICK_S):
                        continue
                except Exception:  # the database was busy beyond its timeout: keep serving
                    log.exception("render dispatcher: could not run a job")
                if self._wake.wait(self.poll_s):
                    self._wake.clear()
                self._drained_at = None
            self._give_back()

    def _give_back(self, timeout_s: float = 10.0) -> None:
        """On stop: cancel what the actors render and put those jobs back in the queue."""
        for slot in self._slots:
            if slot.flight is not None:
                slot.handle.cancel.remote(slot.flight.job_id)
        deadline = time.monotonic() + timeout_s
        while any(s.flight is not None for s in self._slots) and time.monotonic() < deadline:
            self._wait(TICK_S)
        for job_id in self._running():
            end_job(self.studio, job_id, "queued")

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop serving (jobs it was running go back to the queue) and close."""
        self.stopping = True
        self._wake.set()
        self._served.wait(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.close()

    def close(self) -> None:
        """Remove the actors and leave the cluster (a local runtime started here stops); once."""
        import ray

        if getattr(self, "_closed", False):
            return
        self._closed = True
        for slot in getattr(self, "_slots", []):
            ray.kill(slot.handle, no_restart=True)
        disconnect(self._started_here)

    def __enter__(self) -> "Dispatcher":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # --- what the Settings tab and --json show -------------------------------------------

    def status(self) -> ClusterView:
        """The cluster, its actors and what each is doing now."""
        actors = []
        for slot in list(self._slots):
            flight = slot.flight
            doing = f"rendering render {flight.job_id} ({flight.fraction:.0%})" if flight else "idle"
            doing = "restarting (Ray restarts it)" if slot.restarting else doing
            actors.append(ActorView(slot.index, slot.host, slot.pid, slot.device, doing,
                                    flight.job_id if flight else None, flight.fraction if flight else 0.0,
                                    list(slot.done), slot.restarts, slot.encoded, len(slot.held)))
        return ClusterView(self.config.address, self.generator.describe(), actors,
                           [w.job_id for w in self._waiting], dict(self.retried))
