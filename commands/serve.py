"""`python launch.py` without a subcommand: serve the app in the browser.

Serves on 127.0.0.1 by default and prints the URL. A public --share link needs --auth.
Gradio may serve files only from the data directory's pictures and exports and from assets/
(its own upload and cache folders are moved inside the data directory; the database is never
served), and heavy libraries load only when used:
the render worker builds its engine in a background thread after the page is up.
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Optional

from engine.registry import EngineConfig
from engine.segment import SegmenterConfig
from story.studio import Studio

log = logging.getLogger("anystory.serve")
ENGINE_FLAGS = ("engine", "flux", "redux", "anystory", "device", "dtype", "offload", "memory")


def parse_auth(value: Optional[str]) -> Optional[list[tuple[str, str]]]:
    """`user:password`, or a file of such lines (blank lines and # comments skipped)."""
    if not value:
        return None
    lines = Path(value).read_text(encoding="utf-8").splitlines() if Path(value).is_file() else [value]
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


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """The environment's engine settings overridden by the flags given."""
    config = EngineConfig.from_env()
    for name in ENGINE_FLAGS:
        value = getattr(args, name, None)
        if value not in (None, False):
            setattr(config, name, value)
    return config


def segmenter_config(args: argparse.Namespace, device: Optional[str]) -> SegmenterConfig:
    """The environment's segmenter settings overridden by the flags given."""
    env = SegmenterConfig.from_env()
    return SegmenterConfig(
        backend=getattr(args, "segmenter", None) or env.backend,
        checkpoint=getattr(args, "sam_checkpoint", None) or env.checkpoint,
        model_type=getattr(args, "sam_model", None) or env.model_type,
        device=device or env.device,
    )


def keep_gradio_inside(data_dir: Path) -> None:
    """Gradio's upload and cache folders go inside the data directory (set before importing
    gradio: it reads them at import time); no usage analytics leave the machine."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(data_dir / "cache" / "gradio"))
    os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(data_dir / "cache" / "gradio-examples"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


ENGINE_LOAD = threading.Lock()  # one engine load at a time: a reload waits for a load in progress


def load_engine(context) -> None:
    """Build the engine from context.engine_config and start its render worker; an error is
    kept for the Settings tab (the rest of the app still works)."""
    try:
        from engine.registry import create_generator
        from story.worker import Worker

        worker = Worker(context.studio, create_generator(context.engine_config))
        worker.start()
        context.worker = worker
        print(f"Render engine ready: {worker.generator.describe()}", flush=True)
    except Exception as exc:
        context.worker_error = str(exc)
        print(f"error: the render engine could not start: {exc}", file=sys.stderr, flush=True)


def start_worker(context) -> None:
    """Build the engine and start the render worker in the background (a GPU engine takes
    minutes to load; the page is usable meanwhile)."""
    def run() -> None:
        with ENGINE_LOAD:
            load_engine(context)

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

    threading.Thread(target=run, name="engine-reloader", daemon=True).start()


def release_gpu_cache() -> None:
    """Give the freed engine's GPU memory back before the next one loads (only if torch is loaded)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def serve(args: argparse.Namespace) -> int:
    """Start the app; returns when the server stops (Ctrl-C)."""
    auth = parse_auth(args.auth)
    if args.share and not auth:
        print("error: --share makes the app public; give --auth user:password (or an auth file) too",
              file=sys.stderr)
        return 2
    studio = Studio.open(getattr(args, "data_dir", None))
    keep_gradio_inside(studio.root)
    from app.context import ASSETS_DIR, AppContext
    from app.ui import CSS, THEME, build_app

    engine = engine_config(args)
    context = AppContext(studio, engine, segmenter_config(args, engine.device))
    context.engine_status()  # a bad --engine or --segmenter fails here, before anything is served
    context.segmenter_status()
    context.restart_engine = lambda: restart_worker(context)
    demo = build_app(context)
    demo.queue(default_concurrency_limit=4)
    _, local_url, share_url = demo.launch(
        server_name=args.host, server_port=args.port, share=args.share, auth=auth,
        allowed_paths=[str(studio.data_dir.assets), str(studio.data_dir.exports), str(ASSETS_DIR)],
        prevent_thread_lock=True, quiet=True,
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
