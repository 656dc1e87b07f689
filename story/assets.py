"""The content-addressed asset store and image ingest.

Every image is a file named by the sha256 of its bytes under `assets/<2 hex>/<hash>.png`,
written atomically (story/atomic.py) before any database row that points to
it commits. The database is the index: `gc` removes files that no row references.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
import warnings
from pathlib import Path
from typing import Iterable

from PIL import Image, ImageOps, UnidentifiedImageError

from story.atomic import PART_GLOB, write_bytes_atomically
from story.errors import InvalidInput

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_UPLOAD_BYTES = 40 * 1024 * 1024
MAX_PIXELS = 8192 * 8192
"""Largest picture accepted (67 megapixels, e.g. 8192 x 8192): a camera's photo fits, while a
small file that declares a huge canvas is refused from its header, before any decoding."""
HASH_LENGTH = 64
GC_GRACE_S = 600.0


def png_bytes(image: Image.Image, compress_level: int = 6) -> bytes:
    """Encode an image as PNG (the store's one format: lossless and alpha-capable);
    a lower `compress_level` trades file size for speed (renders use 1)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def read_image(data: bytes, *, label: str = "picture") -> Image.Image:
    """Decode an uploaded image: PNG, JPEG or WebP only, one frame, within the size and pixel
    limits, EXIF orientation applied, as RGB (RGBA when it has transparency). Raises
    InvalidInput otherwise. The one entry point for pictures from the UI and the CLI."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"The {label} is {len(data) / 2**20:.0f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB."
        )
    try:
        with warnings.catch_warnings():  # MAX_PIXELS, below Pillow's warning, is checked instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
        with probe:
            _check_header(probe, label)
            probe.load()
            image = to_rgb(ImageOps.exif_transpose(probe))
    except InvalidInput:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidInput(f"The {label} has too many pixels to be opened safely ({exc}).") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"The {label} is not a readable PNG, JPEG or WebP image (corrupt or truncated).") from exc
    return image


def _check_header(probe: Image.Image, label: str) -> None:
    """Refuse by what the header says: the format, animation, the pixel count."""
    kind = probe.format
    if kind not in ALLOWED_FORMATS:
        raise InvalidInput(f"The {label} is {kind or 'of an unknown type'}; use PNG, JPEG or WebP.")
    if getattr(probe, "n_frames", 1) > 1:
        raise InvalidInput(f"The {label} is an animated {kind}; use a still picture.")
    width, height = probe.size
    if width * height > MAX_PIXELS:
        raise InvalidInput(
            f"The {label} is {width} x {height} pixels; the limit is {MAX_PIXELS / 1e6:.0f} "
            "megapixels (e.g. 8192 x 8192). Scale it down first."
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the picture has transparency: CMYK, 16-bit and palette pictures
    are converted (16-bit grey keeps its tones: 65535 becomes 255)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 257).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def read_image_file(path: str | os.PathLike, *, label: str = "picture") -> Image.Image:
    """`read_image` for a file on disk, with a clear error when it is missing."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {label} {path}: {exc.strerror or exc}.") from exc
    return read_image(data, label=label)


class AssetStore:
    """Files named by their sha256 under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if len(digest) != HASH_LENGTH or not all(c in "0123456789abcdef" for c in digest):
            raise InvalidInput(f"not an asset hash: {digest!r}")
        return self.root / digest[:2] / f"{digest}.png"

    def put_bytes(self, data: bytes) -> str:
        """Store PNG bytes and return their hash (a no-op when already present)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not self._refresh(target):
            write_bytes_atomically(target, data)
        return digest

    @staticmethod
    def _refresh(target: Path) -> bool:
        """Mark an existing file as just written (so `gc`'s grace period protects it until
        the row that reuses it commits); False when it does not exist."""
        try:
            os.utime(target)
        except FileNotFoundError:
            return False
        return True

    def adopt(self, staged: Path, digest: str) -> bool:
        """Move a verified, fsynced file named by `digest` into the store; return False (and
        leave `staged` alone) when the store already has it."""
        target = self.path(digest)
        if self._refresh(target):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        return True

    def put_image(self, image: Image.Image, compress_level: int = 6) -> str:
        return self.put_bytes(png_bytes(image, compress_level))

    def get_bytes(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def open(self, digest: str) -> Image.Image:
        """Open a stored image fully loaded (the file handle is closed)."""
        with Image.open(self.path(digest)) as image:
            image.load()
            return image

    def all_hashes(self) -> set[str]:
        return {p.stem for p in self.root.glob("??/*.png")}

    def gc(self, referenced: Iterable[str], *, min_age_s: float = GC_GRACE_S) -> list[str]:
        """Remove files not in `referenced` and older than `min_age_s` (younger ones may
        belong to a transaction that has not committed yet); return the removed hashes."""
        keep = set(referenced)
        cutoff = time.time() - min_age_s
        removed = []
        for digest in sorted(self.all_hashes() - keep):
            path = self.path(digest)
            if path.stat().st_mtime <= cutoff:
                path.unlink(missing_ok=True)
                removed.append(digest)
        for tmp in self.root.glob(f"??/{PART_GLOB}"):
            if tmp.stat().st_mtime <= cutoff:
                tmp.unlink(missing_ok=True)
        return removed
