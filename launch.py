#!/usr/bin/env python3
"""AnyStory Studio: `python launch.py` starts the app; subcommands run headless jobs.

    python launch.py [--host 127.0.0.1] [--port 7860] [--data-dir DIR]
    python launch.py projects | show PROJECT | import-script FILE.json | gc | ...  [--json]

Run `python launch.py --help` for the whole list.
"""
from __future__ import annotations

import sys

from commands import main

if __name__ == "__main__":
    sys.exit(main())
