"""Gradio's uploads in the served app: a size limit, and the upload folder inside the data
directory emptied of earlier sessions' files at start (launch.py in a subprocess)."""
from __future__ import annotations

import json
import os
import time
import urllib.request

from tests.browser_helpers import served_app


def test_uploads_have_a_size_limit_and_old_uploads_are_swept(tmp_path):
    data = tmp_path / "data"
    stale = data / "cache" / "gradio" / "0123abcd" / "old-upload.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over from an earlier session")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    recent = data / "cache" / "gradio" / "4567cdef" / "another-session.png"
    recent.parent.mkdir()
    recent.write_bytes(b"maybe another app on this data directory is reading it")
    with served_app(data) as url:
        with urllib.request.urlopen(f"{url}/config", timeout=30) as response:
            config = json.load(response)
        assert config["max_file_size"] == 2**30
        assert not stale.exists() and not stale.parent.exists() and recent.exists()
