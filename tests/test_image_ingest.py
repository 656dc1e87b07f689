"""Image ingest refuses every bad upload with a clear message and applies EXIF rotation."""
from __future__ import annotations

import io
import struct
import zlib

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
