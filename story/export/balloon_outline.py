"""Balloon outlines: speech ellipses, thought clouds, shout bursts and whisper dashes, with tails.

Shapes are polygons in page points; lettering.py decides where balloons go and what they say.
"""
from __future__ import annotations

import math

from story.export.layout import Rect
from story.export.shapes import Shape

KIND_REACH = {"speech": 1.0, "thought": 1.12, "shout": 1.25, "whisper": 1.0}  # outline beyond the ellipse


def tail_tip(center: tuple[float, float], a: float, b: float, target: tuple[float, float] | None,
             panel: Rect, side: int, min_length: float = 10.0) -> tuple[float, float]:
    """Tail tip: most of the way towards target (the speaker's head) when known, else a short
    tail down and to the balloon's side (a voice from off panel)."""
    cx, cy = center
    reach = math.hypot((target[0] - cx) / a, (target[1] - cy) / b) if target else 0.0
    if target and reach > 1.15:
        edge = (cx + (target[0] - cx) / reach, cy + (target[1] - cy) / reach)
        gap = math.hypot(target[0] - edge[0], target[1] - edge[1])
        length = min(max(gap * 0.7, min_length), panel.h * 0.35)
        ux, uy = (target[0] - edge[0]) / gap, (target[1] - edge[1]) / gap
    else:
        ux, uy = side * 0.4 / math.hypot(0.4, 1.0), 1.0 / math.hypot(0.4, 1.0)
        edge_reach = math.hypot(ux / a, uy / b)
        edge = (cx + ux / edge_reach, cy + uy / edge_reach)
        length = min(max(panel.h * 0.12, min_length), 36.0)
    x = min(max(edge[0] + ux * length, panel.x + 2), panel.right - 2)
    y = min(max(edge[1] + uy * length, panel.y + 2), panel.bottom - 2)
    return x, y


def _radius(kind: str, a: float, b: float):
    """Radial profile of a balloon outline (1.0 = the text ellipse) and its sample count."""
    perimeter = math.pi * (a + b)
    if kind == "shout":
        spikes = max(10, round(perimeter / 16))
        return (lambda t: 1.0 + (KIND_REACH["shout"] - 1) * (1 - abs((t * spikes / math.pi) % 2 - 1))), 2 * spikes
    if kind == "thought":
        bumps = max(8, round(perimeter / 20))
        return (lambda t: 1.0 + (KIND_REACH["thought"] - 1) * abs(math.sin(t * bumps / 2))), 12 * bumps
    return (lambda t: 1.0), 96


def balloon_shapes(kind: str, center: tuple[float, float], a: float, b: float,
                   tip: tuple[float, float]) -> list[Shape]:
    """Outline of a balloon of the given kind around the ellipse (a, b), with its tail to tip."""
    cx, cy = center
    radius, samples = _radius(kind, a, b)
    point = lambda t: (cx + a * radius(t) * math.cos(t), cy + b * radius(t) * math.sin(t))  # noqa: E731
    t_tip = math.atan2((tip[1] - cy) / b, (tip[0] - cx) / a)
    dash = (3.0, 2.0) if kind == "whisper" else None
    if kind == "thought":
        body = Shape(tuple(point(2 * math.pi * i / samples) for i in range(samples)), dash=dash)
        return [body] + _thought_bubbles(point(t_tip), tip)
    half_base = min(7.0, 0.35 * min(a, b))
    speed = math.hypot(a * math.sin(t_tip), b * math.cos(t_tip))
    delta = half_base / speed
    step = 2 * math.pi / samples
    ts = [t_tip + delta] + [t_tip + k * step for k in range(1, samples) if delta < k * step < 2 * math.pi - delta]
    ts.append(t_tip + 2 * math.pi - delta)
    return [Shape(tuple(point(t) for t in ts) + (tip,), width=1.2, dash=dash)]


def _thought_bubbles(edge: tuple[float, float], tip: tuple[float, float]) -> list[Shape]:
    """Three shrinking circles from the cloud towards the thinker."""
    shapes = []
    for fraction, r in ((0.3, 4.0), (0.62, 3.0), (0.92, 2.0)):
        x = edge[0] + (tip[0] - edge[0]) * fraction
        y = edge[1] + (tip[1] - edge[1]) * fraction
        shapes.append(Shape(tuple((x + r * math.cos(2 * math.pi * i / 24), y + r * math.sin(2 * math.pi * i / 24))
                                  for i in range(24)), width=1.0))
    return shapes
