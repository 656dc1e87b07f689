"""The gc subcommand: remove files no project uses any more."""
from __future__ import annotations

import argparse

from commands.output import emit, open_studio
from story.maintenance import gc


def cmd_gc(args: argparse.Namespace) -> int:
    report = gc(open_studio(args))
    emit(args, {"removed_assets": report.assets, "removed_encodings": report.encodings,
                "removed_leftovers": report.leftovers},
         f"Removed {len(report.assets)} unused image file(s), {len(report.encodings)} cached encoding(s) and "
         f"{len(report.leftovers)} leftover(s) of interrupted imports and exports.")
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("gc", parents=[common], help="remove image files and caches no project uses, and leftovers of interrupted imports/exports")
    p.set_defaults(handler=cmd_gc)
