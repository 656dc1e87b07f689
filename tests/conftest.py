"""Fixtures shared by the whole suite: a fresh data directory and the shared golden data."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def studio(tmp_path):
    """A Studio on a fresh data directory (real SQLite file, real asset store)."""
    from story.studio import Studio

    opened = Studio.open(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repository (golden data); CI clones the repo next to it."""
    assert SHARED.is_dir(), f"{SHARED} is missing: the suite expects ../shared beside the repository"
    return SHARED
