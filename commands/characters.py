"""Character subcommands: add-character, set-character-image, characters, delete-character."""
from __future__ import annotations

import argparse
import sys

from commands.config import segmenter_config
from commands.output import emit, open_studio
from story import characters
from story.assets import read_image_file
from story.errors import InvalidInput
from story.views import to_json


def parse_point(text: str) -> tuple[float, float, bool]:
    """X,Y or X,Y,neg (a negative click excludes what is under it)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) == 2:
            return float(parts[0]), float(parts[1]), True
        if len(parts) == 3 and parts[2] in ("neg", "pos"):
            return float(parts[0]), float(parts[1]), parts[2] == "pos"
    except ValueError:
        pass
    raise InvalidInput(f"--point takes X,Y or X,Y,neg in pixels; got {text!r}.")


def parse_pixel_box(text: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"--box takes X0,Y0,X1,Y1 in pixels; got {text!r}.") from None
    return x0, y0, x1, y1


def cut_out(args: argparse.Namespace):
    """(picture, mask, segmenter name) from --image and --mask, or clicks/box segmented
    by the configured segmenter (SAM with a checkpoint, else the no-weights fallback)."""
    image = read_image_file(args.image)
    if args.mask:
        return image, read_image_file(args.mask, label="mask"), "mask file"
    from engine.segment import create_segmenter_from_config

    segmenter = create_segmenter_from_config(segmenter_config(args))
    points = [parse_point(p) for p in args.point or []]
    box = parse_pixel_box(args.box) if args.box else None
    try:
        mask, _score = segmenter.segment(image, points=points, box=box)
    except ValueError as exc:
        raise InvalidInput(str(exc).capitalize() + ".") from exc
    return image, mask, segmenter.name


def _report(args: argparse.Namespace, view, verb: str) -> int:
    if view.warning:
        print(f"warning: {view.warning}", file=sys.stderr)
    picture = f", picture cut out by {view.segmenter}" if view.has_picture else ", no picture yet"
    emit(args, to_json(view), f"{verb} {view.name} (id {view.id}, version {view.version}{picture}).")
    return 0


def cmd_add_character(args: argparse.Namespace) -> int:
    studio = open_studio(args)
    image = mask = None
    segmenter = ""
    if args.image:
        image, mask, segmenter = cut_out(args)
    elif args.mask or args.point or args.box:
        raise InvalidInput("--mask, --point and --box need --image.")
    view = characters.add_character(
        studio, args.project, args.name, alias=args.alias, description=args.description or "",
        image=image, mask=mask, segmenter=segmenter,
    )
    return _report(args, view, "Added")


def cmd_set_character_image(args: argparse.Namespace) -> int:
    image, mask, segmenter = cut_out(args)
    view = characters.set_character_picture(
        open_studio(args), args.project, args.character, image, mask, segmenter=segmenter
    )
    return _report(args, view, "New picture for")


def cmd_characters(args: argparse.Namespace) -> int:
    from story.projects import get_project

    project = get_project(open_studio(args), args.project)
    lines = [
        f"{c.id:>4}  {c.name}" + (f" [{c.alias}]" if c.alias else "") + f"  v{c.version}"
        + ("" if c.has_picture else "  (no picture)")
        for c in project.characters
    ]
    emit(args, [to_json(c) for c in project.characters], "\n".join(lines) or "No characters yet.")
    return 0


def cmd_delete_character(args: argparse.Namespace) -> int:
    characters.delete_character(open_studio(args), args.project, args.character, confirm=args.yes)
    emit(args, {"deleted": args.character}, f"Deleted {args.character}.")
    return 0


def _picture_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--image", required=required, help="PNG, JPEG or WebP picture of the character")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--mask", help="mask picture of the same size (white = character)")
    how.add_argument("--point", action="append", metavar="X,Y[,neg]", help="click in pixels (repeatable)")
    parser.add_argument("--box", metavar="X0,Y0,X1,Y1", help="box around the character, in pixels")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("add-character", parents=[common], help="add a character, optionally from a picture")
    p.add_argument("project", help="project name or id")
    p.add_argument("--name", required=True)
    p.add_argument("--alias", help="one-word alias used in prompts, e.g. ROLE-A")
    p.add_argument("--description", help="how the character looks, used in prompts")
    _picture_options(p, required=False)
    p.set_defaults(handler=cmd_add_character)
    p = subparsers.add_parser("set-character-image", parents=[common], help="give a character a new picture")
    p.add_argument("project", help="project name or id")
    p.add_argument("character", help="character name, alias or id")
    _picture_options(p, required=True)
    p.set_defaults(handler=cmd_set_character_image)
    p = subparsers.add_parser("characters", parents=[common], help="list a project's characters")
    p.add_argument("project")
    p.set_defaults(handler=cmd_characters)
    p = subparsers.add_parser("delete-character", parents=[common], help="delete a character")
    p.add_argument("project")
    p.add_argument("character")
    p.add_argument("--yes", action="store_true", help="also remove it from the panels it appears in")
    p.set_defaults(handler=cmd_delete_character)
