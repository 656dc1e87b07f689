"""Every subcommand of launch.py is shown in README's command line section."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from commands import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_subcommand_is_documented_in_readme():
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    documented = set(re.findall(r"python launch\.py ([a-z][a-z-]*)", README.read_text(encoding="utf-8")))
    assert len(subparsers.choices) > 10
    assert sorted(set(subparsers.choices) - documented) == []
