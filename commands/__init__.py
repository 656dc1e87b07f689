"""The command line behind launch.py: global options, one module per group of subcommands.

Each module in SUBCOMMANDS has `register(subparsers, common)` that adds its parsers with
`set_defaults(handler=...)`; a handler takes the parsed args and returns an exit code.
User mistakes (story.errors.StudioError, engine.base.EngineError) print one line to stderr
and exit 2; nothing prints a traceback for them.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

SUBCOMMANDS = ("commands.projects", "commands.characters", "commands.render", "commands.transfer", "commands.maintenance")


def common_options(suppress: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand (`SUPPRESS` keeps the main
    parser's value when a subcommand does not repeat them)."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data-dir", help="data directory (default ./data or $ANYSTORY_DATA_DIR)", **default)
    parser.add_argument("--json", action="store_true", help="print results as JSON", **default)
    engine = parser.add_argument_group("engine")
    engine.add_argument("--engine", help="auto, draft, anystory or anystory-tiny (default: $ANYSTORY_ENGINE or auto)", **default)
    engine.add_argument("--flux", help="FLUX.1-dev folder or hub repo id", **default)
    engine.add_argument("--redux", help="FLUX.1-Redux-dev folder or hub repo id", **default)
    engine.add_argument("--anystory", help="anystory_flux.bin file, folder or hub repo id", **default)
    engine.add_argument("--device", help="cuda, cuda:1, cpu… (default: cuda when present)", **default)
    engine.add_argument("--dtype", help="bfloat16 (default), float16 or float32", **default)
    engine.add_argument("--offload", action="store_true", help="keep weights on the CPU, each layer on the GPU only "
                        "while it runs (diffusers group offloading)", **default)
    engine.add_argument("--memory", help="GPU memory profile: auto (default), full, int8, fp8, nf4 or nf4-offload "
                        "(else $ANYSTORY_MEMORY)", **default)
    sam = parser.add_argument_group("segmentation")
    sam.add_argument("--segmenter", help="auto (default), sam or fallback (else $ANYSTORY_SEGMENTER)", **default)
    sam.add_argument("--sam-checkpoint", help="Segment Anything checkpoint file (else $ANYSTORY_SAM_CHECKPOINT)", **default)
    sam.add_argument("--sam-model", help="vit_b (default), vit_l or vit_h", **default)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="launch.py", parents=[common_options(False)],
        description="AnyStory Studio: without a subcommand, start the app in the browser.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    parser.add_argument("--share", action="store_true", help="public Gradio link (needs --auth)")
    parser.add_argument("--auth", help="user:password, or a file with one user:password per line")
    parser.set_defaults(handler=None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options(True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(subparsers, common)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    from engine.base import EngineError
    from story.errors import StudioError

    args = build_parser().parse_args(argv)
    handler = args.handler
    if handler is None:
        from commands.serve import serve

        handler = serve
    try:
        return handler(args) or 0
    except (StudioError, EngineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
