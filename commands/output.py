"""Shared helpers of the subcommands: opening the data directory and printing results."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from story.numbers import MAX_INTEGER, whole_number
from story.studio import Studio


def open_studio(args: argparse.Namespace) -> Studio:
    """The data directory of --data-dir (or its default); says so when it opens read-only."""
    studio = Studio.open(getattr(args, "data_dir", None))
    if studio.read_only:
        print(f"note: {studio.root} is read-only: it is opened read-only (list, show and export work; "
              "changes are refused).", file=sys.stderr)
    return studio


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print `data` as JSON with --json, else the human-readable `text`."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)


def number_arg(text: str) -> int:
    """argparse type of ids, seeds and panel numbers: a whole number SQLite can hold."""
    value = whole_number(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number from 0 to {MAX_INTEGER}")
    return value
