"""The headless command line end to end, as a user runs it: `python launch.py ... --json`
prints JSON, and mistakes print one line to stderr with exit code 2, no traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "lantern_fox.json"


def _run(data: Path, *args: object) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ANYSTORY_DATA_DIR"}
    return subprocess.run([sys.executable, "launch.py", "--data-dir", str(data), *map(str, args)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def _json(data: Path, *args: object):
    done = _run(data, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _refused(data: Path, *args: object, match: str) -> None:
    done = _run(data, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and match in done.stderr, done.stderr


def test_script_import_export_bundle_import_rename_delete_gc(tmp_path):
    data = tmp_path / "data"
    imported = _json(data, "import-script", SAMPLE, "--project", "Lantern")
    assert imported["name"] == "Lantern" and len(imported["panels"]) == 4
    assert [c["alias"] for c in imported["panels"][1]["characters"]] == ["ROLE-B", "ROLE-A"]
    listed = _json(data, "projects")
    assert [(p["name"], p["panel_count"], p["character_count"]) for p in listed] == [("Lantern", 4, 3)]

    out = tmp_path / "lantern.zip"
    exported = _json(data, "export", "Lantern", "--format", "bundle", "--out", out)
    assert exported["path"] == str(out) and zipfile.is_zipfile(out)
    _refused(data, "export", "Lantern", "--format", "bundle", "--out", out, match="--force")
    assert _json(data, "export", imported["id"], "--format", "bundle", "--out", out, "--force")["format"] == "bundle"

    copy = _json(data, "import-bundle", out)
    assert copy["name"] == "Lantern (2)" and copy["id"] != imported["id"]
    assert [p["caption"] for p in copy["panels"]] == [p["caption"] for p in imported["panels"]]

    assert _json(data, "rename-project", "Lantern (2)", "Lantern copy")["name"] == "Lantern copy"
    _refused(data, "delete-project", "Lantern copy", match="--yes")
    assert _json(data, "delete-project", "Lantern copy", "--yes")["name"] == "Lantern copy"
    assert _json(data, "gc") == {"removed_assets": [], "removed_encodings": [], "removed_leftovers": []}
    shown = _run(data, "show", "lantern")
    assert shown.returncode == 0 and "1. ROLE-A stands alone" in shown.stdout


@pytest.mark.parametrize("args, match", [
    (("show", "Nowhere"), "No project named 'Nowhere'"),
    (("import-script", "missing.json"), "Cannot read missing.json"),
    (("import-bundle", SAMPLE), "not a readable project bundle"),
])
def test_user_mistakes_are_one_line_errors(tmp_path, args, match):
    _refused(tmp_path / "data", *args, match=match)
