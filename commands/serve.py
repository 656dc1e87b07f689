"""`python launch.py` without a subcommand: serve the app in the browser.

Serves on 127.0.0.1 by default and prints the URL. A public --share link needs --auth.
Gradio may serve files only from the data directory's pictures and exports and from assets/
(its own upload and cache folders are moved inside the data directory; the database is never
served), and heavy libraries load only when used:
the render worker builds its engine in a background thread after the page is up.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from commands.cluster_options import cluster_config
from commands.config import engine_config, segmenter_config
from story.errors import InvalidInput
from story.maintenance import sweep_leftovers
from story.studio import Studio

log = logging.getLogger("anystory.serve")


def _auth_file_lines(value: str) -> Optional[list[str]]:
    """The lines of the auth file `value` names, or None when it names no file."""
    try:
        if not Path(value).is_file():
            return None
        return Path(value).read_text(encoding="utf-8").splitlines()
    except ValueError as exc:  # a NUL in the value, or a file that is not UTF-8
        raise ValueError(f"--auth: cannot use {value[:40]!r} as user:password or as a file of them ({exc})") from None
    except OSError as exc:
        raise ValueError(f"--auth: cannot read {value[:40]!r}: {exc.strerror or exc}") from None


def parse_auth(value: Optional[str]) -> Optional[list[tuple[str, str]]]:
    """`user:password`, or a file of such lines (blank lines and # comments skipped)."""
    if not value:
        return None
    lines = _auth_file_lines(value) or [value]
    pairs = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise ValueError(f"--auth needs user:password (or a file of user:password lines), got {line[:40]!r}")
        pairs.append((user, password))
    if not pairs:
        raise ValueError(f"the auth file {value} has no user:password line")
    return pairs


def keep_gradio_inside(data_dir: Path, read_only: bool = False) -> None:
    """Gradio's upload and cache folders go inside the data directory (set before importing
    gradio: it reads them at import time), or into a fresh temporary folder when the data
    directory is read-only; no usage analytics leave the machine."""
    cache = Path(tempfile.mkdtemp(prefix="anystory-gradio-")) if read_only else data_dir / "cache"
    os.environ.setdefault("GRADIO_TEMP_DIR", str(cache / "gradio"))
    os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(cache / "gradio-examples"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    sweep_old_uploads(cache / "gradio")


def sweep_old_uploads(folder: Path, min_age_s: float = 3600) -> None:
    """Remove files an earlier session left in Gradio's upload folder (the app reads uploads
    at once; Gradio's own cleaning covers only the files of the running session)."""
    cutoff = time.time() - min_age_s
    for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        with contextlib.suppress(OSError):
            if path.is_dir():
                path.rmdir()  # only when empty
            elif path.stat().st_mtime < cutoff:
                path.unlink()


ENGINE_LOAD = threading.Lock()  # one engine load at a time: a reload waits for a load in progress


def load_engine(context) -> None:
    """Build the engine from context.engine_config and start its render worker, or, with a
    cluster (context.cluster), its actors and the dispatcher; an error is kept for the Settings
    tab (the rest of the app still works)."""
    try:
        if context.cluster is not None and context.cluster.enabled:
            from story.cluster import engine_factory
            from story.dispatcher import Dispatcher

            config = context.engine_config
            context.worker = Dispatcher(context.studio, context.cluster, lambda gpu: engine_factory(config, gpu))
        else:
            from engine.registry import create_generator
            from story.worker import Worker

            context.worker = Worker(context.studio, create_generator(context.engine_config))
            context.worker.start()
        print(f"Render engine ready: {context.worker.generator.describe()}", flush=True)
    except Exception as exc:
        context.worker_error = str(exc)
        print(f"error: the render engine could not start: {exc}", file=sys.stderr, flush=True)


def serve_dispatcher(context) -> None:
    """With a cluster, run the dispatcher in this thread, the one that built it: a local Ray
    runtime lives only as long as the thread that started it. Returns when it is stopped."""
    runner = context.worker
    if context.cluster is not None and context.cluster.enabled and runner is not None:
        runner.serve()


def start_worker(context) -> None:
    """Build the engine and start the render worker in the background (a GPU engine takes
    minutes to load; the page is usable meanwhile)."""
    def run() -> None:
        with ENGINE_LOAD:
            load_engine(context)
        serve_dispatcher(context)

    threading.Thread(target=run, name="engine-loader", daemon=True).start()


def restart_worker(context) -> None:
    """In the background: stop the running render worker (its job goes back to the queue),
    free its engine and build a new one from context.engine_config (the Settings tab's memory
    profile)."""
    def run() -> None:
        with ENGINE_LOAD:
            old = [context.worker] if context.worker is not None else []
            context.worker, context.worker_error = None, None
            if old:
                old[0].stop(timeout=600)  # a render in progress finishes first
                old.clear()  # the last reference to the old engine: its memory can go
                gc.collect()
                release_gpu_cache()
            load_engine(context)
        serve_dispatcher(context)

    threading.Thread(target=run, name="engine-reloader", daemon=True).start()


def release_gpu_cache() -> None:
    """Give the freed engine's GPU memory back before the next one loads (only if torch is loaded)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def serve(args: argparse.Namespace) -> int:
    """Start the app; returns when the server stops (Ctrl-C)."""
    try:
        auth = parse_auth(args.auth)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if args.share and not auth:
        print("error: --share makes the app public; give --auth user:password (or an auth file) too",
              file=sys.stderr)
        return 2
    studio = Studio.open(getattr(args, "data_dir", None))
    if not studio.read_only:
        sweep_leftovers(studio)
    keep_gradio_inside(studio.root, studio.read_only)
    if studio.read_only:
        print(f"note: {studio.root} is read-only: the app opens it read-only (browse and export; "
              "changes are refused).", flush=True)
    from app.context import ASSETS_DIR, AppContext
    from app.ui import CSS, THEME, build_app

    engine = engine_config(args)
    cluster = cluster_config(args)  # a bad --cluster fails here, before anything is served
    context = AppContext(studio, engine, segmenter_config(args, engine.device), cluster=cluster)
    context.engine_status()  # a bad --engine or --segmenter fails here, before anything is served
    context.segmenter_status()
    context.restart_engine = lambda: restart_worker(context)
    demo = build_app(context)
    demo.queue(default_concurrency_limit=4)
    _, local_url, share_url = demo.launch(
        server_name=args.host, server_port=args.port, share=args.share, auth=auth,
        allowed_paths=[str(studio.data_dir.assets), str(studio.data_dir.exports), str(ASSETS_DIR)],
        prevent_thread_lock=True, quiet=True, max_file_size="1gb",  # a bundle; pictures stop at 40 MB
        ssr_mode=False, theme=THEME, css=CSS, footer_links=[],
    )
    start_worker(context)
    print(f"AnyStory Studio is running at {local_url}" + (f" (public link: {share_url})" if share_url else ""),
          flush=True)
    print(f"Data directory: {studio.root}. Press Ctrl-C to stop.", flush=True)
    try:
        demo.block_thread()
    finally:
        if context.worker is not None:
            context.worker.stop(timeout=10)
    return 0
