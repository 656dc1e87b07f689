"""The one way files are written in place: into a temporary file beside the target, fsynced,
then renamed over it, so readers see the old file or the whole new one, never a part.

Temporary files are named `.<name>.<random>.part`; a process killed mid-write leaves one
behind, which `gc` (story/maintenance.py) removes once it is older than its grace period.
The file gets the mode an ordinary new file gets (0666 less the umask), not mkstemp's 0600.
"""
from __future__ import annotations

import errno
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from story.errors import StorageError

PART_SUFFIX = ".part"
PART_GLOB = f".*{PART_SUFFIX}"
FULL = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def storage_problem(exc: OSError, path: Path) -> StorageError | None:
    """A one-line StorageError for a full disk or a folder that cannot be written, else None."""
    if exc.errno in FULL:
        return StorageError(f"The disk is full: {path} could not be written. Free some space and try again.")
    if exc.errno in NOT_WRITABLE:
        return StorageError(f"{path.parent} cannot be written ({exc.strerror}).")
    return None


def _new_temporary(path: Path) -> Path:
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}{PART_SUFFIX}"
        try:
            os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return temporary
        except FileExistsError:
            continue


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; when the block succeeds it is fsynced and renamed
    over `path` (whose folder is created); on any error it is removed. A full disk or a
    folder that cannot be written raises StorageError."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = _new_temporary(path)
    except OSError as exc:
        raise (storage_problem(exc, path) or exc) from exc
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise (storage_problem(exc, path) or exc) from exc
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call write(temporary path), then put the result at `path` in one step."""
    with replacing(path) as temporary:
        write(temporary)
    return Path(path)


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Put `data` at `path` in one step."""
    return write_atomically(path, lambda temporary: temporary.write_bytes(data))
