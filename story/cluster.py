"""Which Ray cluster renders (`--cluster none|local|ray://HOST:PORT`, or $ANYSTORY_CLUSTER),
connecting to it, and starting its render actors (story/cluster_actor.py).

- `none`: no Ray; the in-process worker (story/worker.py) renders.
- `local`: a Ray runtime started here: one actor per visible GPU, or `--cluster-workers N`
  CPU actors where there is no GPU (default: one per CPU core). The runtime is kept small
  (no dashboard, a 256 MB object store) and stops with the process.
- `ray://HOST:PORT`: join a running cluster through its Ray Client port (`ray start --head`
  opens 10001): one actor per GPU of the cluster, or N CPU actors where it has none.

Ray places the actors (`num_gpus=1` each on a GPU) and restarts one whose process dies.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from engine.base import Generator
from story.cluster_actor import RenderActor
from story.errors import InvalidInput, StudioError

REPO = Path(__file__).resolve().parents[1]
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2
NAMESPACE = "anystory"


class ClusterUnreachable(StudioError):
    """The Ray cluster could not be reached or used; nothing queued was touched."""


@dataclass(frozen=True)
class ClusterConfig:
    """Where renders run: "none", "local" or "ray://HOST:PORT", and the CPU actors wanted."""

    address: str = "none"
    workers: Optional[int] = None

    @classmethod
    def of(cls, address: Optional[str], workers: Optional[int]) -> "ClusterConfig":
        """Flags overlaid on $ANYSTORY_CLUSTER / $ANYSTORY_CLUSTER_WORKERS; refuses bad values."""
        address = (address or os.environ.get("ANYSTORY_CLUSTER") or "none").strip()
        raw_workers = os.environ.get("ANYSTORY_CLUSTER_WORKERS")
        if workers is None and raw_workers:
            if not raw_workers.isdigit():
                raise InvalidInput(f"ANYSTORY_CLUSTER_WORKERS wants a whole number; got {raw_workers!r}.")
            workers = int(raw_workers)
        if address not in ("none", "local") and not _is_client_address(address):
            raise InvalidInput(f"--cluster wants none, local or ray://HOST:PORT; got {address!r}.")
        if workers is not None and workers < 1:
            raise InvalidInput(f"--cluster-workers wants at least 1; got {workers}.")
        return cls(address, workers)

    @property
    def enabled(self) -> bool:
        return self.address != "none"


def _is_client_address(address: str) -> bool:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    return address.startswith("ray://") and bool(host) and port.isdigit()


def connect(config: ClusterConfig) -> bool:
    """Start or join the cluster (a runtime this process already has is reused); returns True
    when this call started a local runtime (then `disconnect` stops it). Ray kills a local
    runtime's processes when the thread that started it ends: call it from a lasting thread."""
    import ray

    if ray.is_initialized():
        return False
    logging.getLogger("ray").setLevel(logging.WARNING)
    if config.address == "local":
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        ray.init(num_cpus=max(config.workers or 1, os.cpu_count() or 1), include_dashboard=False,
                 object_store_memory=LOCAL_OBJECT_STORE_BYTES, namespace=NAMESPACE,
                 log_to_driver=False, configure_logging=False)
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ray.init(config.address, namespace=NAMESPACE, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterUnreachable(
            f"Cannot reach the Ray cluster at {config.address} ({exc}): is `ray start --head` running "
            "there with its client port open, and RAY_AUTH_MODE=token with the cluster's token "
            "(RAY_AUTH_TOKEN) set here? Nothing was rendered; queued renders stay queued."
        ) from None
    return False


def disconnect(started_here: bool) -> None:
    """Leave the cluster (stopping the local runtime when this process started it)."""
    import ray

    if started_here or ray.util.client.ray.is_connected():
        ray.shutdown()


def actor_options(config: ClusterConfig) -> list[dict[str, Any]]:
    """Ray options of each render actor: one per GPU of the cluster, else N CPU actors."""
    import ray

    resources = ray.cluster_resources()
    common = {"max_restarts": -1, "max_task_retries": 0, "max_concurrency": 2}
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return [{**common, "num_gpus": 1, "num_cpus": 1} for _ in range(gpus)]
    count = config.workers or max(1, int(resources.get("CPU", 1)))
    return [{**common, "num_cpus": 1} for _ in range(count)]


def engine_factory(engine_config: Any, gpu: bool) -> Callable[[], Generator]:
    """What an actor calls to build its generator: the configured engine, on the actor's GPU
    (Ray shows each GPU actor only its own GPU, as "cuda") or on the CPU."""
    from functools import partial

    from engine.registry import create_generator

    return partial(create_generator, dataclasses.replace(engine_config, device="cuda" if gpu else "cpu"))


def start_actors(config: ClusterConfig, make_factory: Callable[[bool], Callable[[], Generator]]) -> list[Any]:
    """Create the render actors (Ray places them); `make_factory(gpu)` says how each builds
    its generator. Returns their handles."""
    import ray

    remote = ray.remote(RenderActor)
    return [remote.options(**opts).remote(make_factory("num_gpus" in opts)) for opts in actor_options(config)]
