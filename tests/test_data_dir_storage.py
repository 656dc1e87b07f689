"""A data directory that cannot be used as usual: one that is a file, one this user cannot
write (opened read-only: listed and exported, changes refused), and a full disk. Each gets
one line on stderr and exit status 2, never a traceback, and nothing is lost."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from commands import main

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "data" / "lantern_fox.json"


def _one_line_error(done: subprocess.CompletedProcess, match: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], done.stderr


def _cli(data: Path, *args: str, unprivileged: bool = False) -> subprocess.CompletedProcess:
    """Run launch.py; `unprivileged` drops root's power to ignore file modes (setpriv)."""
    env = {k: v for k, v in os.environ.items() if k != "ANYSTORY_DATA_DIR"} | {"PYTHONDONTWRITEBYTECODE": "1"}
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if unprivileged else []
    return subprocess.run([*prefix, sys.executable, "launch.py", "--data-dir", str(data), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "data").write_text("not a folder")
    assert main(["--data-dir", str(tmp_path / "data"), "projects"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a folder" in err, err
    (tmp_path / "data2").mkdir()
    (tmp_path / "data2" / "assets").write_text("")
    assert main(["--data-dir", str(tmp_path / "data2"), "new-project", "Fox"]) == 2
    assert "assets is a file, not a folder" in capsys.readouterr().err


@pytest.fixture
def read_only_data():
    """A data directory with a rendered project whose files and folders are read-only (the
    CLI runs without root's capability to ignore file modes when the tests run as root)."""
    root = Path(tempfile.mkdtemp(prefix="anystory-ro-"))
    try:
        root.chmod(0o755)
        data, out = root / "data", root / "out"
        assert _cli(data, "import-script", str(SCRIPT), "--project", "Lantern").returncode == 0
        assert _cli(data, "render", "Lantern", "--engine", "draft").returncode == 0
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        for path in [data, *data.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        yield data, out
    finally:
        for path in [root, *root.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        shutil.rmtree(root)


def test_a_read_only_data_dir_is_listed_and_exported_and_refuses_changes(read_only_data):
    data, out = read_only_data
    root = os.geteuid() == 0
    if root and shutil.which("setpriv") is None:
        pytest.skip("running as root, this test needs util-linux's setpriv to drop the power to ignore file modes")
    before = sorted(p.relative_to(data).as_posix() for p in data.rglob("*"))
    listed = _cli(data, "projects", unprivileged=root)
    assert listed.returncode == 0 and "Lantern  (4 panels, 3 characters)" in listed.stdout, listed.stderr
    assert listed.stderr.startswith("note: ") and "read-only" in listed.stderr
    exported = _cli(data, "export", "Lantern", "--format", "pdf", "--out", str(out / "fox.pdf"), unprivileged=root)
    assert exported.returncode == 0 and (out / "fox.pdf").read_bytes().startswith(b"%PDF"), exported.stderr
    bundled = _cli(data, "export", "Lantern", "--format", "bundle", "--out", str(out / "fox.zip"), unprivileged=root)
    assert bundled.returncode == 0, bundled.stderr
    _one_line_error(_cli(data, "new-project", "Fox", unprivileged=root), "is read-only (opened read-only)")
    _one_line_error(_cli(data, "render", "Lantern", "--all", "--engine", "draft", unprivileged=root), "read-only")
    _one_line_error(_cli(data, "import-bundle", str(out / "fox.zip"), unprivileged=root), "cannot be written")
    assert sorted(p.relative_to(data).as_posix() for p in data.rglob("*")) == before


FULL_DISK = """
set -u
mount -t tmpfs -o size=600k tmpfs "$1"
run() { "$PYTHON" launch.py --data-dir "$1/data" "${@:2}"; echo "rc=$?"; }
run "$1" new-project Fox
run "$1" add-panel Fox --prompt "a fox at dawn"
head -c 2000000 /dev/zero > "$1/filler" 2>/dev/null
echo "---full"
run "$1" new-project Owl 2>&1
run "$1" add-character Fox --name Mia --image "$2" 2>&1
echo "---freed"
rm "$1/filler"
run "$1" show Fox
"$PYTHON" -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])" "$1/data/studio.db"
"""


def test_a_full_disk_is_one_line_and_loses_nothing(tmp_path):
    from story_helpers import png

    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux's unshare to mount a small file system for this test")
    picture = tmp_path / "mia.png"
    picture.write_bytes(png((200, 40, 40), size=(300, 300)))
    (tmp_path / "disk").mkdir()
    command = ["unshare", "--mount", "--propagation", "private", "bash", "-c", FULL_DISK, "full-disk",
               str(tmp_path / "disk"), str(picture)]
    done = subprocess.run(command, cwd=REPO, env={**os.environ, "PYTHON": sys.executable}, capture_output=True,
                          text=True, timeout=300)
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"mounting a small file system needs root with CAP_SYS_ADMIN: {done.stderr.strip()[:200]}")
    before, full, after = done.stdout.split("---full")[0], *done.stdout.split("---full")[1].split("---freed")
    assert before.count("rc=0") == 2, done.stdout + done.stderr
    for attempt in full.split("rc=")[:-1]:
        lines = [line for line in attempt.strip().splitlines() if line.strip()]
        assert lines[-1].startswith("error: ") and "full" in lines[-1], full
        assert "Traceback" not in attempt
    assert full.count("rc=2") == 2
    assert "1. a fox at dawn" in after and "rc=0" in after and after.strip().endswith("ok"), after
