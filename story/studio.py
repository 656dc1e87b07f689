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
    """An opened data directory; the migrations are applied on open."""

    def __init__(self, data_dir: DataDir) -> None:
        self.data_dir = data_dir.create()
        self.db = Database(data_dir.database)
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
