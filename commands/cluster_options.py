"""The --cluster flags of the app, `render` and `retry`, and the job runner they choose: the
in-process worker (`--cluster none`, the default) or a Ray dispatcher (story/dispatcher.py)."""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from typing import Any, Iterator

from story.cluster import ClusterConfig
from story.studio import Studio


def add_cluster_flags(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """--cluster and --cluster-workers (`suppress` keeps the main parser's values)."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    group = parser.add_argument_group("render farm")
    group.add_argument("--cluster", metavar="none|local|ray://HOST:PORT", **default,
                       help="render on a Ray cluster: local starts one here (default: $ANYSTORY_CLUSTER or none)")
    group.add_argument("--cluster-workers", type=int, metavar="N", **default,
                       help="CPU render actors where the cluster has no GPU (default: one per core)")


def cluster_config(args: argparse.Namespace) -> ClusterConfig:
    """The flags given, else $ANYSTORY_CLUSTER and $ANYSTORY_CLUSTER_WORKERS."""
    return ClusterConfig.of(getattr(args, "cluster", None), getattr(args, "cluster_workers", None))


@contextmanager
def render_runner(args: argparse.Namespace, studio: Studio, *, cluster: bool = True) -> Iterator[Any]:
    """A Worker with the configured engine, or, with a cluster (and `cluster`), a Dispatcher
    whose actors load that engine; the dispatcher leaves the cluster when done."""
    from commands.config import engine_config
    from engine.registry import create_generator
    from story.worker import Worker

    config = cluster_config(args)
    engine = engine_config(args)
    if not (cluster and config.enabled):
        yield Worker(studio, create_generator(engine))
        return
    from story.cluster import engine_factory
    from story.dispatcher import Dispatcher

    with Dispatcher(studio, config, lambda gpu: engine_factory(engine, gpu)) as dispatcher:
        yield dispatcher
