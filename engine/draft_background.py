"""Deterministic landscape backgrounds for draft panels: sky gradient, sun, hills and ground.

The palette comes from a few scene words of the prompt (night, sunset, snow, ...) or, when
none is present, from a hue drawn from the prompt and seed; the geometry (horizon, sun,
hill outlines) comes from the same random stream. The image is computed at half size with
numpy and scaled up, which keeps it fast and gives the silhouettes soft edges.
"""
from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

RGB = tuple[float, float, float]

DOWNSCALE = 2
"""The background is computed at 1/DOWNSCALE of the panel size and scaled up."""


@dataclass(frozen=True)
class Palette:
    """The four colours a background is made of (0-255 floats); hills mix horizon and ground."""

    name: str
    sky_top: RGB
    sky_horizon: RGB
    sun: RGB
    ground: RGB


THEMES: tuple[tuple[frozenset[str], Palette], ...] = tuple(
    (frozenset(words.split()), palette)
    for words, palette in (
        ("night midnight moon moonlight stars starry dark",
         Palette("night", (12, 18, 48), (52, 66, 112), (236, 236, 214), (30, 42, 52))),
        ("sunset dusk evening sunrise dawn twilight",
         Palette("sunset", (66, 72, 142), (250, 170, 120), (255, 214, 120), (86, 70, 80))),
        ("snow snowy winter ice icy frozen",
         Palette("snow", (128, 170, 214), (222, 232, 242), (255, 250, 228), (236, 240, 246))),
        ("desert sand sandy dune dunes canyon",
         Palette("desert", (92, 152, 214), (236, 214, 178), (255, 246, 206), (214, 172, 112))),
        ("beach sea ocean shore coast lake river harbour harbor",
         Palette("sea", (70, 140, 214), (198, 228, 244), (255, 244, 200), (64, 132, 178))),
        ("forest woods park garden meadow field jungle valley",
         Palette("forest", (104, 168, 224), (206, 230, 236), (255, 244, 196), (84, 136, 78))),
    )
)


def stream_seed(*parts: object) -> int:
    """A 64-bit seed from any values, stable across runs and platforms (unlike hash())."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (r * 255.0, g * 255.0, b * 255.0)


def _shift_hue(colour: RGB, dh: float) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in colour))
    return _hsv(h + dh, s, v)


def choose_palette(prompt: str, rng: np.random.Generator) -> Palette:
    """The theme named by the prompt's words, hue-jittered by the seed; else a palette of
    seeded hues kept to plausible skies (blue to lilac, or warm) and grounds."""
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    for keywords, palette in THEMES:
        if words & keywords:
            dh = float(rng.uniform(-0.03, 0.03))
            return replace(palette, **{k: _shift_hue(getattr(palette, k), dh)
                                       for k in ("sky_top", "sky_horizon", "sun", "ground")})
    sky = float(rng.uniform(0.5, 0.8) if rng.random() < 0.8 else rng.uniform(0.0, 0.1))
    land = float(rng.uniform(0.1, 0.36))  # earth, olive and green: grounds that look natural
    return Palette("hue", _hsv(sky, 0.42, 0.88), _hsv(sky + 0.04, 0.16, 0.98),
                   _hsv(sky + 0.1, 0.3, 1.0), _hsv(land, 0.42, 0.6))


def _mix(a: RGB, b: RGB, t: float) -> np.ndarray:
    return np.asarray(a, np.float32) * (1.0 - t) + np.asarray(b, np.float32) * t


def _over(img: np.ndarray, colour: np.ndarray, coverage: np.ndarray) -> None:
    """Paint `colour` over `img` in place with per-pixel `coverage` in [0, 1]."""
    img += (colour - img) * coverage[..., None]


def _ridge(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """A smooth hill outline in [0, 1] along normalised x: a sum of three random sines."""
    wave = np.zeros_like(x)
    for freq, amp in ((1.0, 1.0), (2.3, 0.5), (5.1, 0.2)):
        f = freq * float(rng.uniform(0.7, 1.3))
        wave += amp * np.sin(2 * np.pi * f * x + float(rng.uniform(0, 2 * np.pi)))
    return (wave + 1.7) / 3.4


def _sun(img: np.ndarray, rng: np.random.Generator, colour: RGB, horizon: float) -> None:
    """A sun (or moon) disc with a soft glow, painted only in the window where it shows."""
    h, w, _ = img.shape
    radius = min(w, h) * float(rng.uniform(0.045, 0.075))
    sx, sy = w * float(rng.uniform(0.15, 0.85)), horizon * float(rng.uniform(0.25, 0.6))
    reach = 10.0 * radius  # the glow is below a third of a grey level beyond this
    r0, r1 = max(0, int(sy - reach)), min(h, int(sy + reach) + 1)
    c0, c1 = max(0, int(sx - reach)), min(w, int(sx + reach) + 1)
    ys = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
    dist = np.sqrt((xs - sx) ** 2 + (ys - sy) ** 2)
    window, sun = img[r0:r1, c0:c1], np.asarray(colour, np.float32)
    _over(window, sun, 0.45 * np.exp(-((dist / (4.0 * radius)) ** 2)))
    _over(window, sun, np.clip(radius - dist + 0.5, 0.0, 1.0))


def _hills(img: np.ndarray, rng: np.random.Generator, pal: Palette, horizon: float) -> None:
    """Two ranges of hills on the horizon, the far one paler (aerial perspective)."""
    h, w, _ = img.shape
    xs = (np.arange(w, dtype=np.float32)[None, :] + 0.5) / w
    for share, lift in ((0.45, 0.16), (0.8, 0.07)):
        top = horizon - h * lift * _ridge(rng, xs) * float(rng.uniform(0.6, 1.0))
        r0, r1 = max(0, int(top.min()) - 1), min(h, int(horizon) + 2)
        ys = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        _over(img[r0:r1], _mix(pal.sky_horizon, pal.ground, share), np.clip(ys - top + 0.5, 0.0, 1.0))


def _ground(img: np.ndarray, pal: Palette, horizon: float) -> None:
    """Ground from the horizon down, hazy far away and darker near the viewer."""
    h = img.shape[0]
    r0 = min(h, int(horizon))
    ys = np.arange(r0, h, dtype=np.float32)[:, None] + 0.5
    depth = np.clip((ys - horizon) / max(h - horizon, 1.0), 0.0, 1.0)[..., None]
    far, near = _mix(pal.sky_horizon, pal.ground, 0.85), _mix(pal.ground, (0, 0, 0), 0.2)
    _over(img[r0:], far * (1 - depth) + near * depth, np.clip(ys - horizon + 0.5, 0.0, 1.0))


def render_background(prompt: str, seed: int, width: int, height: int) -> tuple[Image.Image, str]:
    """Return the (width x height) RGB background and the palette's name."""
    rng = np.random.default_rng(stream_seed("draft-background", seed, prompt))
    pal = choose_palette(prompt, rng)
    w, h = max(8, -(-width // DOWNSCALE)), max(8, -(-height // DOWNSCALE))
    ys = np.arange(h, dtype=np.float32)[:, None] + 0.5
    horizon = h * float(rng.uniform(0.54, 0.66))

    t = np.clip(ys / horizon, 0.0, 1.0) ** 0.8
    img = np.broadcast_to(_mix(pal.sky_top, pal.sky_horizon, t[..., None]), (h, w, 3)).copy()
    _sun(img, rng, pal.sun, horizon)
    _hills(img, rng, pal, horizon)

    _ground(img, pal, horizon)

    small = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8), "RGB")
    return small.resize((width, height), Image.Resampling.BILINEAR), pal.name
