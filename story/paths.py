"""Where a data directory keeps its database, assets, encodings cache and exports."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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

    def create(self) -> "DataDir":
        for folder in (self.root, self.assets, self.encodings, self.exports):
            folder.mkdir(parents=True, exist_ok=True)
        return self
