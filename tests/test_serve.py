"""The serve command without a browser: --share needs --auth, auth files, and a start-up
that leaves the heavy libraries unloaded."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from commands.serve import parse_auth

ROOT = Path(__file__).resolve().parents[1]


def test_share_without_auth_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "launch.py"), "--share", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--auth" in done.stderr
    assert not (tmp_path / "studio.db").exists()  # refused before anything was opened


def test_auth_from_flag_and_from_file(tmp_path):
    assert parse_auth("ann:s3cret:with:colons") == [("ann", "s3cret:with:colons")]
    users = tmp_path / "users.txt"
    users.write_text("# writers\nann:one\n\nbob:two\n")
    assert parse_auth(str(users)) == [("ann", "one"), ("bob", "two")]
    assert parse_auth(None) is None


@pytest.mark.parametrize("bad", ["nopassword", "ann:", ":pw"])
def test_malformed_auth_is_refused(bad):
    with pytest.raises(ValueError, match="user:password"):
        parse_auth(bad)


@pytest.mark.parametrize("engine", ["auto", "anystory"])  # anystory: its settings are read, the engine is not
def test_building_the_app_loads_no_heavy_library(tmp_path, engine):
    code = (
        "import sys\n"
        "from story.studio import Studio\n"
        "from engine.registry import EngineConfig\n"
        "from app.context import AppContext\n"
        "from app.ui import build_app\n"
        f"build_app(AppContext(Studio.open({str(tmp_path)!r}), EngineConfig(engine={engine!r})))\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'segment_anything', 'cv2', 'reportlab')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
