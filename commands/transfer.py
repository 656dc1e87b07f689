"""Import and export subcommands: import-script, import-bundle, export.

`export` looks its --format up in FORMATS, a dict from format name to a function
(studio, project, out_path, force) -> written path; new formats (pdf, cbz, png) are one
entry each.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from commands.output import emit, open_studio
from story.bundle import export_bundle, import_bundle
from story.projects import ProjectRef, get_project
from story.script_import import import_script
from story.studio import Studio
from story.views import ProjectView, to_json

Exporter = Callable[[Studio, ProjectRef, Path, bool], Path]
FORMATS: dict[str, Exporter] = {"bundle": export_bundle}


def _imported(args: argparse.Namespace, project: ProjectView, source: str) -> int:
    emit(args, to_json(project),
         f"Imported {source} as project {project.name} (id {project.id}): "
         f"{len(project.characters)} characters, {len(project.panels)} panels.")
    return 0


def cmd_import_script(args: argparse.Namespace) -> int:
    return _imported(args, import_script(open_studio(args), args.file, args.project), args.file)


def cmd_import_bundle(args: argparse.Namespace) -> int:
    return _imported(args, import_bundle(open_studio(args), args.path), args.path)


def cmd_export(args: argparse.Namespace) -> int:
    studio = open_studio(args)
    project = get_project(studio, args.project)
    written = FORMATS[args.format](studio, project.id, Path(args.out), args.force)
    emit(args, {"project": project.name, "project_id": project.id, "format": args.format, "path": str(written)},
         f"Exported {project.name} ({args.format}) to {written}.")
    return 0


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
    p.add_argument("--out", required=True, help="file to write")
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    p.set_defaults(handler=cmd_export)
