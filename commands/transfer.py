"""Import and export subcommands: import-script, import-bundle, export.

`export` writes a project bundle (zip) or a comic (PDF, print PDF, CBZ, EPUB, webtoon
strips, PNG pages) through story.export.from_project, with page settings from the project
overlaid by the flags.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from commands.output import emit, open_studio
from story.bundle import export_bundle, import_bundle
from story.export.from_project import COMIC_FORMATS, export_project, page_settings
from story.export.layout import POINTS_PER
from story.projects import get_project
from story.script_import import import_script
from story.studio import Studio
from story.views import ProjectView, to_json

FORMATS = ("bundle",) + COMIC_FORMATS


def _imported(args: argparse.Namespace, project: ProjectView, source: str) -> int:
    emit(args, to_json(project),
         f"Imported {source} as project {project.name} (id {project.id}): "
         f"{len(project.characters)} characters, {len(project.panels)} panels.")
    return 0


def cmd_import_script(args: argparse.Namespace) -> int:
    return _imported(args, import_script(open_studio(args), args.file, args.project), args.file)


def cmd_import_bundle(args: argparse.Namespace) -> int:
    return _imported(args, import_bundle(open_studio(args), args.path), args.path)


def export_comic(studio: Studio, project: ProjectView, args: argparse.Namespace) -> tuple[Path, int, list[str]]:
    """A comic format with the project's page settings overlaid by the flags."""
    settings = page_settings(
        project.page_settings, page_size=args.page_size, layout=args.layout,
        reading_direction="rtl" if args.rtl else None, placement="fit" if args.fit else None,
        title_page=False if args.no_title_page else None,
        bleed=args.bleed * POINTS_PER["mm"] if args.print else None,
        margin=args.margin * POINTS_PER["mm"] if args.margin is not None else None,
    )
    report = export_project(studio, project.id, args.format, Path(args.out), settings, dpi=args.dpi, force=args.force,
                            print_ready=args.print)
    return report.path, report.pages, report.warnings


def cmd_export(args: argparse.Namespace) -> int:
    studio = open_studio(args)
    project = get_project(studio, args.project)
    if args.format == "bundle":
        written, pages, warnings = export_bundle(studio, project.id, Path(args.out), args.force), None, []
    else:
        written, pages, warnings = export_comic(studio, project, args)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    emit(args, {"project": project.name, "project_id": project.id, "format": args.format, "path": str(written),
                "pages": pages, "warnings": warnings},
         f"Exported {project.name} ({args.format}) to {written}.")
    return 0


def _millimetres(text: str) -> float:
    """A bleed or margin in millimetres: a number from 0 to 20."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of millimetres") from None
    if not 0 <= value <= 20:
        raise argparse.ArgumentTypeError(f"{text} mm is out of range; use 0 to 20")
    return value


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("import-script", parents=[common], help="import an AnyStory storyboard script (JSON)")
    p.add_argument("file", help="script file (UTF-8 JSON with 角色表 and 分镜头)")
    p.add_argument("--project", help="project name (default: the file name; a taken name gets ' (2)')")
    p.set_defaults(handler=cmd_import_script)
    p = subparsers.add_parser("import-bundle", parents=[common], help="import a project bundle (.zip) as a new project")
    p.add_argument("path", help="bundle file made by `export --format bundle`")
    p.set_defaults(handler=cmd_import_bundle)
    p = subparsers.add_parser("export", parents=[common], help="export a project")
    p.add_argument("project", help="project name or id")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="what to write")
    p.add_argument("--out", required=True, help="file to write (a folder for png and webtoon)")
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    comic = p.add_argument_group("comic formats (pdf, cbz, epub, webtoon, png)")
    comic.add_argument("--page-size", help="a4, letter, us-comic or WxH with mm/in/pt, e.g. 148x210mm")
    comic.add_argument("--layout", help="auto (default), single, 2-rows, 3-rows, 2x2, 2x3, splash-first")
    comic.add_argument("--rtl", action="store_true", help="read right to left (manga)")
    comic.add_argument("--fit", action="store_true", help="never crop pictures (by default frames may trim background, "
                       "never a character, to fill the page)")
    comic.add_argument("--no-title-page", action="store_true", help="leave out the title page")
    comic.add_argument("--dpi", type=int, default=150, help="resolution of PNG/CBZ/EPUB pages (default 150)")
    comic.add_argument("--print", action="store_true", help="PDF for a printer: bleed, TrimBox/BleedBox, 300 dpi images")
    comic.add_argument("--bleed", type=_millimetres, default=3.0, help="bleed in mm with --print (default 3)")
    comic.add_argument("--margin", type=_millimetres, help="page margin in mm (default 12.7; 0 runs the art to the "
                       "trim, and with --print into the bleed)")
    p.set_defaults(handler=cmd_export)
