"""Draws the sample story's character pictures and masks, and the UI's placeholder pictures.

    python assets/sample/draw.py

Run once; the PNGs it writes are committed next to it (the app only reads them). Each
figure is drawn twice in one pass: in colour on a plain background, and white on black in
its mask, so the masks match the pictures exactly.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
UI = HERE.parent / "ui"
SIZE = 512
INK = (60, 40, 35)


class Figure:
    """Draws each shape on the picture and, when it belongs to the figure, on the mask."""

    def __init__(self, background: tuple[int, int, int]) -> None:
        self.image = Image.new("RGB", (SIZE, SIZE), background)
        self.mask = Image.new("L", (SIZE, SIZE), 0)
        self.draw, self.mdraw = ImageDraw.Draw(self.image), ImageDraw.Draw(self.mask)

    def shape(self, kind: str, xy, fill, outline=INK, width: int = 5, body: bool = True, **extra) -> None:
        getattr(self.draw, kind)(xy, fill=fill, outline=outline, width=width, **extra)
        if body:
            getattr(self.mdraw, kind)(xy, fill=255, outline=255, width=width, **extra)

    def eyes(self, left: tuple[int, int], right: tuple[int, int], r: int = 9) -> None:
        for x, y in (left, right):
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=INK)
            self.draw.ellipse((x - r // 3, y - r // 2, x + r // 3, y), fill="white")

    def save(self, name: str) -> None:
        self.image.save(HERE / f"{name}.png", optimize=True)
        self.mask.save(HERE / f"{name}_mask.png", optimize=True)


def mira() -> Figure:
    """A small girl with red braids and a yellow raincoat."""
    f = Figure((206, 228, 245))
    f.shape("rounded_rectangle", (196, 400, 226, 470), (70, 90, 150), radius=10)   # legs
    f.shape("rounded_rectangle", (286, 400, 316, 470), (70, 90, 150), radius=10)
    f.shape("ellipse", (180, 455, 236, 485), (150, 60, 50))                        # boots
    f.shape("ellipse", (276, 455, 332, 485), (150, 60, 50))
    f.shape("rounded_rectangle", (186, 262, 216, 362), (250, 204, 50), radius=12)   # arms
    f.shape("rounded_rectangle", (296, 262, 326, 362), (250, 204, 50), radius=12)
    f.shape("ellipse", (178, 340, 212, 374), (255, 220, 190))                       # hands
    f.shape("ellipse", (300, 340, 334, 374), (255, 220, 190))
    f.shape("polygon", [(256, 230), (350, 420), (162, 420)], (250, 204, 50))        # raincoat
    f.shape("ellipse", (134, 140, 186, 250), (200, 70, 40))                         # braids
    f.shape("ellipse", (326, 140, 378, 250), (200, 70, 40))
    f.shape("ellipse", (166, 70, 346, 250), (255, 220, 190))                        # face
    f.shape("chord", (160, 60, 352, 200), (200, 70, 40), start=180, end=360)                  # hair
    f.eyes((222, 170), (290, 170))
    f.draw.arc((226, 180, 286, 220), 20, 160, fill=INK, width=5)                    # smile
    f.draw.ellipse((190, 190, 210, 205), fill=(250, 160, 150))
    f.draw.ellipse((302, 190, 322, 205), fill=(250, 160, 150))
    return f


def rusty() -> Figure:
    """A cheerful orange fox with a white-tipped tail, sitting."""
    f = Figure((214, 238, 206))
    f.shape("polygon", [(330, 420), (470, 330), (450, 460)], (236, 120, 40))        # tail
    f.shape("polygon", [(440, 350), (470, 330), (462, 395)], (255, 250, 240), body=False)
    f.shape("ellipse", (160, 250, 360, 470), (236, 120, 40))                        # body
    f.shape("ellipse", (205, 310, 315, 460), (255, 245, 230), width=0, body=False)  # chest
    f.shape("polygon", [(170, 150), (190, 50), (240, 120)], (236, 120, 40))         # ears
    f.shape("polygon", [(272, 120), (322, 50), (342, 150)], (236, 120, 40))
    f.shape("ellipse", (150, 100, 362, 290), (236, 120, 40))                        # head
    f.shape("polygon", [(256, 285), (190, 215), (322, 215)], (255, 245, 230), width=0, body=False)
    f.eyes((212, 185), (300, 185))
    f.draw.ellipse((244, 255, 268, 275), fill=INK)                                  # nose
    return f


def hoot() -> Figure:
    """A round brown owl with big spectacles, standing on a branch."""
    f = Figure((228, 218, 245))
    f.shape("rounded_rectangle", (110, 430, 402, 458), (120, 84, 50), radius=12)    # branch
    f.shape("ellipse", (150, 120, 362, 440), (150, 105, 75))                        # body
    f.shape("ellipse", (200, 250, 312, 420), (225, 200, 160), width=0, body=False)  # belly
    f.shape("polygon", [(160, 140), (180, 70), (225, 125)], (150, 105, 75))         # ear tufts
    f.shape("polygon", [(287, 125), (332, 70), (352, 140)], (150, 105, 75))
    for x in (210, 302):                                                            # spectacles
        f.draw.ellipse((x - 38, 150, x + 38, 226), fill=(255, 250, 235), outline=INK, width=6)
    f.draw.line((248, 188, 264, 188), fill=INK, width=6)
    f.eyes((210, 190), (302, 190), r=14)
    f.shape("polygon", [(256, 215), (240, 240), (256, 262), (272, 240)], (245, 170, 40), body=False)
    f.shape("ellipse", (200, 425, 240, 445), (245, 170, 40))                        # feet
    f.shape("ellipse", (272, 425, 312, 445), (245, 170, 40))
    return f


def placeholder(name: str, text: str, background: tuple[int, int, int], size: tuple[int, int]) -> None:
    """A soft tile with a short line of text, for panels and characters without a picture."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    margin = size[0] // 12
    draw.rounded_rectangle((margin, margin, size[0] - margin, size[1] - margin), radius=margin,
                           outline=(200, 185, 165), width=4)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", size[0] // 14)
    except OSError:
        font = ImageFont.load_default(size[0] // 14)
    draw.text((size[0] / 2, size[1] / 2), text, fill=(150, 130, 110), font=font, anchor="mm", align="center")
    image.save(UI / f"{name}.png", optimize=True)


def main() -> None:
    for name, figure in (("mira", mira()), ("rusty", rusty()), ("hoot", hoot())):
        figure.save(name)
    UI.mkdir(exist_ok=True)
    placeholder("not_rendered", "not rendered yet", (246, 241, 232), (384, 384))
    placeholder("no_picture", "no picture yet", (238, 236, 242), (384, 384))


if __name__ == "__main__":
    main()
