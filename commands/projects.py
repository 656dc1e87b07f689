"""Project subcommands: projects, show, new-project, rename-project, delete-project."""
from __future__ import annotations

import argparse

from commands.output import emit, open_studio
from story import projects
from story.errors import InvalidInput
from story.views import to_json


def cmd_projects(args: argparse.Namespace) -> int:
    rows = projects.list_projects(open_studio(args))
    lines = [f"{p.id:>4}  {p.name}  ({p.panel_count} panels, {p.character_count} characters)" for p in rows]
    emit(args, [to_json(p) for p in rows], "\n".join(lines) or "No projects yet.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    project = projects.get_project(open_studio(args), args.project)
    lines = [f"{project.name} (id {project.id}, style {project.style})", "Characters:"]
    lines += [
        f"  {c.name}" + (f" [{c.alias}]" if c.alias else "") + ("" if c.has_picture else "  (no picture)")
        for c in project.characters
    ]
    lines.append("Panels:")
    for panel in project.panels:
        names = ", ".join(c.name for c in panel.characters)
        lines.append(f"  {panel.number:>3}. {panel.prompt}" + (f"  [{names}]" if names else ""))
    emit(args, to_json(project), "\n".join(lines))
    return 0


def cmd_new_project(args: argparse.Namespace) -> int:
    project = projects.create_project(open_studio(args), args.name, author=args.author or "", style=args.style)
    emit(args, to_json(project), f"Created project {project.name} (id {project.id}).")
    return 0


def cmd_rename_project(args: argparse.Namespace) -> int:
    project = projects.rename_project(open_studio(args), args.project, args.new_name)
    emit(args, to_json(project), f"Renamed to {project.name} (id {project.id}).")
    return 0


def cmd_delete_project(args: argparse.Namespace) -> int:
    studio = open_studio(args)
    project = projects.get_project(studio, args.project)
    if not args.yes:
        raise InvalidInput(
            f"Deleting {project.name} removes its {len(project.characters)} characters and "
            f"{len(project.panels)} panels with their renders; add --yes to confirm."
        )
    projects.delete_project(studio, project.id)
    emit(args, {"deleted": project.id, "name": project.name}, f"Deleted project {project.name} (id {project.id}).")
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("projects", parents=[common], help="list projects")
    p.set_defaults(handler=cmd_projects)
    p = subparsers.add_parser("show", parents=[common], help="show a project's characters and panels")
    p.add_argument("project", help="project name or id")
    p.set_defaults(handler=cmd_show)
    p = subparsers.add_parser("new-project", parents=[common], help="create an empty project")
    p.add_argument("name")
    p.add_argument("--author")
    p.add_argument("--style", default="(No style)")
    p.set_defaults(handler=cmd_new_project)
    p = subparsers.add_parser("rename-project", parents=[common], help="rename a project")
    p.add_argument("project", help="project name or id")
    p.add_argument("new_name")
    p.set_defaults(handler=cmd_rename_project)
    p = subparsers.add_parser("delete-project", parents=[common], help="delete a project and everything in it")
    p.add_argument("project", help="project name or id")
    p.add_argument("--yes", action="store_true", help="confirm the deletion")
    p.set_defaults(handler=cmd_delete_project)
