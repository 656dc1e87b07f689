"""Downloading and caching SAM checkpoints: SHA-256 check, offline errors, cache lookup.

Downloads go to a local HTTP server (a real socket, no network needed)."""
from __future__ import annotations

import hashlib
import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.base import EngineError
from engine.sam_checkpoint import CHECKPOINTS, cached_checkpoint, download_checkpoint, ensure_checkpoint

PAYLOAD = b"checkpoint bytes " * 50_000


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/served over HTTP on a free local port; yields the base URL."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "sam_test.pth").write_bytes(PAYLOAD)
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_download_checks_the_sha_and_moves_the_file_into_place(server, tmp_path):
    destination = tmp_path / "cache" / "sam_test.pth"
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    assert download_checkpoint(f"{server}/sam_test.pth", sha, destination) == destination
    assert destination.read_bytes() == PAYLOAD
    assert [p.name for p in destination.parent.iterdir()] == ["sam_test.pth"]


def test_a_download_with_the_wrong_sha_is_refused_and_deleted(server, tmp_path):
    destination = tmp_path / "cache" / "sam_test.pth"
    with pytest.raises(EngineError, match="damaged") as error:
        download_checkpoint(f"{server}/sam_test.pth", "0" * 64, destination)
    assert str(destination) in str(error.value)
    assert list(destination.parent.iterdir()) == []


def test_offline_download_names_the_file_and_where_to_put_it(tmp_path):
    destination = tmp_path / "cache" / "sam_vit_b_01ec64.pth"
    url = f"http://127.0.0.1:{_closed_port()}/sam_vit_b_01ec64.pth"
    with pytest.raises(EngineError) as error:
        download_checkpoint(url, CHECKPOINTS["vit_b"].sha256, destination)
    message = str(error.value)
    assert "sam_vit_b_01ec64.pth" in message and str(destination) in message and url in message
    assert list(destination.parent.iterdir()) == []


def test_a_missing_file_on_the_server_is_a_clear_error(server, tmp_path):
    with pytest.raises(EngineError, match="could not download"):
        download_checkpoint(f"{server}/nothing.pth", "0" * 64, tmp_path / "nothing.pth")


def test_cached_checkpoint_is_found_without_downloading(tmp_path, monkeypatch):
    monkeypatch.setenv("ANYSTORY_SAM_CACHE", str(tmp_path))
    assert cached_checkpoint("vit_l") is None
    path = tmp_path / CHECKPOINTS["vit_l"].filename
    path.write_bytes(b"x")
    assert cached_checkpoint("vit_l") == path
    assert ensure_checkpoint("vit_l") == path


def test_default_cache_lives_in_the_huggingface_home(monkeypatch, tmp_path):
    monkeypatch.delenv("ANYSTORY_SAM_CACHE", raising=False)
    from engine.sam_checkpoint import cache_dir
    from huggingface_hub import constants

    assert cache_dir() == Path(constants.HF_HOME) / "anystory-studio" / "sam"


def test_a_model_without_published_checkpoint_needs_a_path():
    with pytest.raises(EngineError, match="--sam-checkpoint"):
        ensure_checkpoint("tiny")

