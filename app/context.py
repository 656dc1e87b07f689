"""What the UI's handlers share: the opened Studio, the engine configuration and status,
the segmenter (built on first use), and the render worker thread."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from engine.registry import EngineConfig, resolve_engine
from engine.segment import SegmenterConfig, create_segmenter_from_config, resolve_segmenter
from story.studio import Studio

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
"""Fonts, page templates, the sample story and UI pictures shipped with the app."""


@dataclass
class AppContext:
    """One per served app; handlers get it through closures, never through globals."""

    studio: Studio
    engine_config: EngineConfig
    segmenter_config: SegmenterConfig = field(default_factory=SegmenterConfig.from_env)
    cluster: Any = None
    worker: Any = None
    worker_error: Optional[str] = None
    restart_engine: Optional[Callable[[], None]] = None  # set by the server: rebuild the engine from engine_config
    _segmenter: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def data_dir(self) -> Path:
        return self.studio.root

    def engine_status(self) -> tuple[str, str]:
        """(engine name, reason it is the active one), without loading the engine."""
        return resolve_engine(self.engine_config)

    def segmenter_status(self) -> tuple[str, str]:
        """(segmenter backend, reason), without loading SAM."""
        return resolve_segmenter(self.segmenter_config)

    def segmenter(self) -> Any:
        """The segmenter, built on first use (SAM loads its weights then, not at startup)."""
        with self._lock:
            if self._segmenter is None:
                self._segmenter = create_segmenter_from_config(self.segmenter_config)
            return self._segmenter

    def use_segmenter(self, config: SegmenterConfig) -> None:
        """Switch to another segmenter configuration (Settings); built again on next use."""
        resolve_segmenter(config)  # a bad choice is refused before anything changes
        with self._lock:
            self.segmenter_config, self._segmenter = config, None

    def engine_name(self) -> str:
        """The engine renders are queued for: the running worker's, else the configured one."""
        if self.worker is not None:
            return self.worker.generator.name
        return self.engine_status()[0]
