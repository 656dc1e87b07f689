"""Where a data directory keeps its database, assets, encodings cache and exports."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from story.errors import StorageError

DATA_DIR_ENV = "ANYSTORY_DATA_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class DataDir:
    """The layout of one data directory (created on first use)."""

    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> "DataDir":
        """Use `path`, else $ANYSTORY_DATA_DIR, else ./data next to launch.py."""
        chosen = path or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
        return cls(Path(chosen).expanduser().resolve())

    @property
    def database(self) -> Path:
        return self.root / "studio.db"

    @property
    def assets(self) -> Path:
        return self.root / "assets"

    @property
    def encodings(self) -> Path:
        return self.root / "cache" / "encodings"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def read_only(self) -> bool:
        """True when the data directory exists with a database but this process cannot write
        there (permissions, or a read-only file system)."""
        return self.database.exists() and not (os.access(self.root, os.W_OK) and os.access(self.database, os.W_OK))

    def create(self) -> "DataDir":
        """Create the folders that are missing; refuse a path that is not a folder."""
        for folder in (self.root, self.assets, self.encodings, self.exports):
            if folder.exists() and not folder.is_dir():
                raise StorageError(f"The data directory {self.root} cannot be used: {folder} is a file, not a folder.")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"The data directory {self.root} cannot be created: {exc.strerror or exc}.") from exc
        return self
