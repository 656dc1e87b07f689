"""The command line behind launch.py: global options, one module per group of subcommands.

Each module in SUBCOMMANDS has `register(subparsers, common)` that adds its parsers with
`set_defaults(handler=...)`; a handler takes the parsed args and returns an exit code.
User mistakes (story.errors.StudioError, engine.base.EngineError) print one line to stderr
and exit 2; nothing prints a traceback for them.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import sys
from typing import NoReturn, Optional, Sequence

from commands.cluster_options import add_cluster_flags

SUBCOMMANDS = ("commands.projects", "commands.characters", "commands.render", "commands.transfer", "commands.maintenance")


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr (exit status 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def common_options(suppress: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand (`SUPPRESS` keeps the main
    parser's value when a subcommand does not repeat them)."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    parser = Parser(add_help=False)
    parser.add_argument("--data-dir", help="data directory (default ./data or $ANYSTORY_DATA_DIR)", **default)
    parser.add_argument("--json", action="store_true", help="print results as JSON", **default)
    engine = parser.add_argument_group("engine")
    engine.add_argument("--engine", help="auto, draft or anystory (default: $ANYSTORY_ENGINE or auto)", **default)
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
    sam.add_argument("--segmenter", help="auto (default), sam, matting or fallback (else $ANYSTORY_SEGMENTER)", **default)
    sam.add_argument("--sam-checkpoint", help="Segment Anything checkpoint file (else $ANYSTORY_SAM_CHECKPOINT)", **default)
    sam.add_argument("--sam-model", help="vit_b (default), vit_l or vit_h", **default)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="launch.py", parents=[common_options(False)],
        description="AnyStory Studio: without a subcommand, start the app in the browser.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    parser.add_argument("--share", action="store_true", help="public Gradio link (needs --auth)")
    parser.add_argument("--auth", help="user:password, or a file with one user:password per line")
    add_cluster_flags(parser)
    parser.set_defaults(handler=None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options(True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(subparsers, common)
    return parser


def _check_utf8(argv: Sequence[str]) -> None:
    """Arguments that are not valid UTF-8 (Python keeps their bytes as surrogates) are refused
    before they reach a file name or the database."""
    from story.errors import InvalidInput

    for position, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = ascii(arg)[1:-1] if any("\ud800" <= c < "\udc80" for c in arg) else \
                arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise InvalidInput(f"argument {position} ({shown[:60]}) is not valid UTF-8 text.") from None


def _os_error(exc: OSError) -> str:
    """One line for what the operating system refused."""
    if exc.errno == errno.ENOSPC:
        return f"the disk is full{f' (writing {exc.filename})' if exc.filename else ''}; free some space and try again."
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{exc.strerror or exc}: {exc.filename or 'the data directory'} cannot be written."
    return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "") + "."


def main(argv: Optional[Sequence[str]] = None) -> int:
    from engine.base import EngineError
    from story.errors import StudioError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _check_utf8(argv)
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, or a usage error already printed
            return exc.code if isinstance(exc.code, int) else 2
        handler = args.handler
        if handler is None:
            from commands.serve import serve

            handler = serve
        return handler(args) or 0
    except (StudioError, EngineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
