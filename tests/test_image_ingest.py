"""Image ingest refuses every bad upload with a clear message and applies EXIF rotation."""
from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from story.assets import MAX_UPLOAD_BYTES, read_image, read_image_file
from story.errors import InvalidInput
from story_helpers import png


def _encoded(fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 200, 30)).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_png_jpeg_and_webp_are_read(fmt):
    assert read_image(_encoded(fmt)).size == (30, 20)


@pytest.mark.parametrize("data, match", [
    (b"hello, I am a text file", "not a readable PNG, JPEG or WebP"),
    (png((1, 2, 3), size=(64, 64))[:60], "corrupt or truncated"),
    (_encoded("GIF"), "is GIF; use PNG, JPEG or WebP"),
    (_encoded("BMP"), "is BMP; use PNG, JPEG or WebP"),
])
def test_bad_uploads_are_refused(data, match):
    with pytest.raises(InvalidInput, match=match):
        read_image(data)


def test_an_oversized_upload_is_refused_before_decoding():
    with pytest.raises(InvalidInput, match="the limit is 40 MB"):
        read_image(png((1, 2, 3)) + bytes(MAX_UPLOAD_BYTES))


def test_a_decompression_bomb_is_refused():
    # a valid PNG header declaring 40000 x 40000 pixels, far above Pillow's bomb limit
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", zlib.compress(b"\0" * 100)) + _chunk(b"IEND", b"")
    with pytest.raises(InvalidInput, match="too many pixels"):
        read_image(bomb, label="reference picture")


def test_an_exif_rotated_jpeg_comes_out_upright():
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    upright = read_image(buffer.getvalue())
    assert upright.size == (20, 40)
    top, bottom = upright.getpixel((10, 5)), upright.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInput, match="Cannot read picture"):
        read_image_file(tmp_path / "nope.png")


def _png_header_only(width: int, height: int) -> bytes:
    """A small PNG file that declares a width x height RGB canvas (its data is a stub)."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", zlib.compress(b"\0" * 140_000)) + _chunk(b"IEND", b"")


def test_a_small_file_declaring_a_huge_canvas_is_refused_from_its_header():
    """12000 x 12000 is under Pillow's own bomb limit: only the app's limit stops it."""
    import tracemalloc

    data = _png_header_only(12000, 12000)
    tracemalloc.start()
    with pytest.raises(InvalidInput, match="12000 x 12000 pixels; the limit is 67 megapixels"):
        read_image(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 2**20


def test_the_pixel_limit_is_inclusive(monkeypatch):
    import story.assets

    monkeypatch.setattr(story.assets, "MAX_PIXELS", 30 * 20)
    assert read_image(_encoded("PNG")).size == (30, 20)
    monkeypatch.setattr(story.assets, "MAX_PIXELS", 30 * 20 - 1)
    with pytest.raises(InvalidInput, match="30 x 20 pixels"):
        read_image(_encoded("PNG"))


@pytest.mark.parametrize("fmt", ["TIFF", "ICO"])
def test_other_formats_are_refused(fmt):
    with pytest.raises(InvalidInput, match="use PNG, JPEG or WebP"):
        read_image(_encoded(fmt))


def test_an_animated_webp_is_refused():
    frames = [Image.new("RGB", (30, 20), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(InvalidInput, match="animated WEBP; use a still picture"):
        read_image(buffer.getvalue())


def test_a_cmyk_jpeg_becomes_rgb():
    buffer = io.BytesIO()
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(buffer, format="JPEG", quality=95)
    image = read_image(buffer.getvalue())
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((15, 10))
    assert red > 230 and green < 30 and blue < 30


def test_a_16_bit_grey_png_becomes_rgb_with_its_tones():
    ramp = np.linspace(0, 65535, 256).round().astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(np.tile(ramp, (4, 1))).save(buffer, format="PNG")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode.startswith("I")
    image = read_image(buffer.getvalue())
    assert image.mode == "RGB"
    row = np.asarray(image)[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and abs(row[128] - 128) <= 1


def test_transparency_is_kept_and_palettes_become_rgb():
    rgba = Image.new("RGBA", (30, 20), (10, 20, 30, 0))
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG")
    assert read_image(buffer.getvalue()).mode == "RGBA"
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).convert("P").save(buffer, format="PNG")
    assert read_image(buffer.getvalue()).mode == "RGB"


def test_the_cli_takes_a_cmyk_jpeg_without_clicks(tmp_path):
    """What used to end in a traceback (a CMYK picture cannot be stored as PNG) now makes a
    character, cut out by the built-in segmenter without any click."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    picture = Image.new("CMYK", (120, 90), (0, 0, 0, 0))  # white
    picture.paste((0, 255, 255, 0), (40, 20, 80, 70))  # a red block
    path = tmp_path / "cmyk.jpg"
    picture.save(path, format="JPEG", quality=95)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "ANYSTORY_SEGMENTER": "fallback"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "launch.py", "--data-dir", str(tmp_path / "data"), *args],
                              capture_output=True, text=True, cwd=root, env=env, timeout=120)

    assert run("new-project", "Inks").returncode == 0
    done = run("add-character", "Inks", "--name", "Block", "--image", str(path), "--json")
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    assert added["segmenter"] == "fallback" and added["picture_count"] == 1 and added["warning"] is None
