"""Writing export files safely: atomic replacement, no silent overwrite, a report."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from story.atomic import write_atomically


class ExportExistsError(FileExistsError):
    """The output already exists and force was not given."""


@dataclass
class ExportReport:
    """What an export wrote and what the writer should look at (text that did not fit...)."""

    path: Path
    pages: int
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def refuse_existing(paths: list[Path], force: bool) -> None:
    """Raise before writing anything when an output exists and force is off."""
    existing = [str(path) for path in paths if path.exists()]
    if existing and not force:
        raise ExportExistsError(f"{', '.join(existing)} already exists; add --force to replace it.")


def atomic_write(path: Path, write: Callable[[Path], None], force: bool = False) -> Path:
    """Call write(temporary path), then move it over path in one step (story/atomic.py)."""
    path = Path(path)
    refuse_existing([path], force)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file name for the export.")
    return write_atomically(path, write)
