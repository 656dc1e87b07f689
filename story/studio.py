"""`Studio`: one data directory opened for work (database, asset store, caches).

Every service function takes a Studio as its first argument.
"""
from __future__ import annotations

import os
from pathlib import Path

from story.assets import AssetStore
from story.db import Database
from story.paths import DataDir


class Studio:
    """An opened data directory; the migrations are applied on open. One this process
    cannot write is opened read-only (`read_only`): it can be listed and exported, and
    every change is refused with a message that says so."""

    def __init__(self, data_dir: DataDir) -> None:
        self.read_only = data_dir.read_only
        self.data_dir = data_dir if self.read_only else data_dir.create()
        self.db = Database(data_dir.database, read_only=self.read_only)
        self.assets = AssetStore(data_dir.assets)

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> "Studio":
        """Open `path`, $ANYSTORY_DATA_DIR, or ./data (see DataDir.resolve)."""
        return cls(DataDir.resolve(path))

    @property
    def root(self) -> Path:
        return self.data_dir.root

    def close(self) -> None:
        self.db.close()
