"""Meta's published SAM checkpoints: where they are cached, and a verified download.

Checkpoints go to `$ANYSTORY_SAM_CACHE`, by default `<huggingface_hub home>/anystory-studio/sam`
(the app writes nothing outside its data directory except that model cache). A download
(torch.hub's) is streamed to a temporary file with a progress bar, its SHA-256 checked
against Meta's published file, and only then moved into place, so a file in the cache is
always complete.
"""
from __future__ import annotations

import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from engine.base import EngineError


@dataclass(frozen=True)
class PublishedCheckpoint:
    """One of the checkpoints listed in the segment-anything README."""

    url: str
    sha256: str
    size_mb: int

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


CHECKPOINTS = {
    "vit_b": PublishedCheckpoint(
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
        "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
        375,
    ),
    "vit_l": PublishedCheckpoint(
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth",
        "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
        1250,
    ),
    "vit_h": PublishedCheckpoint(
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
        "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
        2565,
    ),
}


def cache_dir() -> Path:
    """Where downloaded SAM checkpoints live (ANYSTORY_SAM_CACHE overrides)."""
    override = os.environ.get("ANYSTORY_SAM_CACHE")
    if override:
        return Path(override).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "anystory-studio" / "sam"


def cached_checkpoint(model_type: str) -> Optional[Path]:
    """The cached published checkpoint for `model_type`, or None (never downloads)."""
    published = CHECKPOINTS.get(model_type)
    if published is None:
        return None
    path = cache_dir() / published.filename
    return path if path.is_file() else None


def ensure_checkpoint(model_type: str) -> Path:
    """The published checkpoint for `model_type`, downloaded into the cache on first use."""
    published = CHECKPOINTS.get(model_type)
    if published is None:
        raise EngineError(
            f"Meta publishes no checkpoint for the SAM model {model_type!r}; "
            "give a checkpoint file with --sam-checkpoint PATH"
        )
    found = cached_checkpoint(model_type)
    if found is not None:
        return found
    print(f"Downloading the SAM {model_type} checkpoint (~{published.size_mb} MB), once.")
    return download_checkpoint(published.url, published.sha256, cache_dir() / published.filename)


def download_checkpoint(url: str, sha256: str, destination: Path) -> Path:
    """Fetch `url` to `destination` with torch.hub's downloader (a progress bar, a temporary
    file moved into place only when its SHA-256 matches); errors say what to do offline."""
    from torch.hub import download_url_to_file

    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        download_url_to_file(url, str(destination), hash_prefix=sha256.lower(), progress=True)
    except OSError as exc:  # urllib.error.URLError, HTTPError, timeouts and disk errors
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise EngineError(
            f"could not download the SAM checkpoint {destination.name} from {url} ({reason}). "
            f"Fetch that file on a machine with internet and put it at {destination}, "
            "or give a local checkpoint with --sam-checkpoint PATH."
        ) from exc
    except RuntimeError as exc:  # torch.hub's "invalid hash value (expected ..., got ...)"
        raise EngineError(
            f"the downloaded {destination.name} is damaged ({exc}) and was deleted; download it "
            f"again from {url} and put it at {destination}."
        ) from exc
    return destination
