"""Render subcommands: add-panel, render, renders, select-render, retry, cancel.

`render` and `retry` queue jobs and run a worker in the foreground until they are done, with
a progress bar on stderr (none with --json); --no-wait only queues them for a running app.
"""
from __future__ import annotations

import argparse
import re
import sys
from typing import Optional

from commands import quality
from commands.cluster_options import add_cluster_flags, render_runner
from commands.output import emit, number_arg, open_studio
from story import panels, queue, renders
from story.errors import InvalidInput
from story.numbers import whole_number
from story.studio import Studio
from story.views import RenderView, to_json
from story.vocabulary import BALLOON_KINDS


def engine_json(generator) -> dict:
    """The engine that ran, for --json output: its name, description and memory profile (with why)."""
    return {"name": generator.name, "describe": generator.describe(), "memory": getattr(generator, "memory", None)}


def parse_box(text: str) -> tuple[str, tuple[float, ...]]:
    """'Mia=0,0.1,0.5,1' -> ('Mia', (0.0, 0.1, 0.5, 1.0)); the box is checked by the service."""
    name, sep, numbers = text.partition("=")
    try:
        box = tuple(float(v) for v in numbers.split(","))
    except ValueError:
        box = ()
    if not sep or not name.strip() or len(box) != 4:
        raise InvalidInput(f"--box wants NAME=x0,y0,x1,y1 (fractions of the panel); got {text!r}.")
    return name.strip(), box


def parse_line(text: str) -> tuple[Optional[str], str, str]:
    """'Mia:speech:Hello' or 'Mia:Hello' (speech) or ':thought:...' (no speaker)."""
    parts = text.split(":", 2)
    if len(parts) == 3 and re.fullmatch(r"[a-z]+", parts[1].strip()) and parts[1].strip() not in BALLOON_KINDS:
        raise InvalidInput(f"--say {text!r}: unknown balloon kind {parts[1].strip()!r}; use one of {', '.join(BALLOON_KINDS)}.")
    if len(parts) == 3 and parts[1].strip() in BALLOON_KINDS:
        speaker, kind, line = parts[0], parts[1].strip(), parts[2]
    elif len(parts) >= 2:
        speaker, kind, line = parts[0], "speech", text.split(":", 1)[1]
    else:
        raise InvalidInput(f"--say wants SPEAKER:KIND:TEXT or SPEAKER:TEXT; got {text!r}.")
    return speaker.strip() or None, kind, line


def cmd_add_panel(args: argparse.Namespace) -> int:
    names = [n.strip() for n in (args.characters or "").split(",") if n.strip()]
    boxes = dict(parse_box(b) for b in args.box or [])
    unknown = [name for name in boxes if name.casefold() not in {n.casefold() for n in names}]
    if unknown:
        raise InvalidInput(f"--box names {', '.join(unknown)}, who is not in --characters.")
    by_key = {k.casefold(): v for k, v in boxes.items()}
    studio = open_studio(args)
    panel = panels.add_panel(
        studio, args.project, prompt=args.prompt, caption=args.caption or "",
        characters=[(n, by_key.get(n.casefold())) for n in names],
        balloons=[parse_line(s) for s in args.say or []], seed=args.seed,
    )
    notes = panels.scene_notes(studio, panel, names)
    emit(args, to_json(panel), "\n".join([f"Added panel {panel.number} (id {panel.id}, seed {panel.seed})."] + notes))
    return 0


def _describe(job: RenderView) -> str:
    text = f"{job.id:>5}  {job.status:<9}  seed {job.seed:<11} {job.engine}"
    if job.error:
        text += f"  error: {job.error}"
    if job.notes:
        text += "  note: " + " ".join(job.notes.splitlines())
    if quality.describe(job):
        text += "  " + quality.describe(job)
    return text


def run_in_foreground(studio: Studio, runner, job_ids: list[int], quiet: bool) -> list[RenderView]:
    """Run the worker or dispatcher until `job_ids` are finished, with a tqdm bar on stderr
    unless quiet; returns the jobs and the automatic retries of jobs a lost actor interrupted."""
    from tqdm import tqdm

    with tqdm(total=len(job_ids), unit="panel", file=sys.stderr, disable=quiet or not job_ids,
              bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}]") as bar:
        done: set[int] = set()
        ours = set(job_ids)

        def advance(render_id: int, fraction: float) -> None:
            if render_id not in ours:  # the worker also runs other queued jobs of its engine
                return
            if fraction >= 1.0:
                done.add(render_id)
            bar.n = len(done) + (0.0 if fraction >= 1.0 else fraction)
            bar.refresh()

        runner.listener = advance
        runner.run_pending(job_ids)
        bar.n = len(job_ids)
    retried = getattr(runner, "retried", {})
    return queue.jobs(studio, sorted({*job_ids, *(retried[i] for i in job_ids if i in retried)}))


def _cluster_lines(view) -> list[str]:
    lines = [f"cluster {view.address}: {view.engine}"]
    for actor in view.actors:
        lines.append(f"  actor {actor.index} on {actor.host} (pid {actor.pid}, {actor.device}): {actor.doing}, "
                     f"{len(actor.rendered)} rendered, {actor.restarts} restarts")
    lines += [f"  render {old} was interrupted (actor lost) and retried as {new}" for old, new in view.retried.items()]
    return lines


def _finish(args: argparse.Namespace, studio: Studio, runner, jobs: list[RenderView], skipped=()) -> int:
    ids = [j.id for j in jobs]
    if not args.no_wait:
        jobs = run_in_foreground(studio, runner, ids, args.json)
    status = runner.status() if hasattr(runner, "status") else None
    retried = status.retried if status else {}
    best, best_lines = quality.keep_best(args, studio, jobs)
    lines = [f"skipped {s}" for s in skipped] + [_describe(j) for j in jobs] + best_lines
    data = {"renders": [to_json(j) for j in jobs], "skipped": list(skipped), **best}
    if runner is not None:
        data["engine"] = engine_json(runner.generator)
    if status is not None:
        data["cluster"], lines = to_json(status), lines + _cluster_lines(status)
    emit(args, data, "\n".join(lines) or "Nothing to render.")
    return 0 if all(j.status in ("done", "queued") or j.id in retried for j in jobs) else 1


def parse_seed(text: Optional[str]) -> queue.SeedChoice:
    """--seed: a whole number, 'same' (the panel's) or 'new'; None means 'same'."""
    if text is None or text in ("same", "new"):
        return text
    number = whole_number(text)
    if number is not None:
        return number
    raise InvalidInput(f"--seed wants a whole number, 'same' or 'new'; got {text!r}.")


def cmd_render(args: argparse.Namespace) -> int:
    quality.check_options(args)
    studio = open_studio(args)
    seed = parse_seed(args.seed)
    if args.variants != 1 and not args.panel:
        raise InvalidInput("--variants needs --panel N (variants are for comparing one panel's renders).")
    with render_runner(args, studio, cluster=not args.no_wait) as runner:
        engine = runner.generator.name
        if args.region:
            return _finish(args, studio, runner, [quality.region_job(args, studio, engine, seed)])
        if args.panel:
            jobs = [job for number in args.panel
                    for job in queue.enqueue(studio, panels.panel_id_at(studio, args.project, number),
                                             engine=engine, seed=seed, variants=args.variants)]
            return _finish(args, studio, runner, jobs)
        if args.all:
            batch = queue.render_all(studio, args.project, engine=engine, seed=seed)
        else:
            batch = queue.render_missing(studio, args.project, engine=engine)
        return _finish(args, studio, runner, batch.jobs, batch.skipped)


def cmd_renders(args: argparse.Namespace) -> int:
    studio = open_studio(args)
    panel = panels.get_panel(studio, panels.panel_id_at(studio, args.project, args.panel))
    history = renders.list_renders(studio, panel.id)
    lines = [("* " if r.id == panel.selected_render_id else "  ") + _describe(r) for r in history]
    emit(args, {"selected_render_id": panel.selected_render_id, "renders": [to_json(r) for r in history]},
         "\n".join(lines) or f"Panel {panel.number} has no renders yet.")
    return 0


def cmd_select_render(args: argparse.Namespace) -> int:
    studio = open_studio(args)
    panel_id = panels.panel_id_at(studio, args.project, args.panel)
    renders.select_render(studio, panel_id, args.render)
    emit(args, {"panel_id": panel_id, "selected_render_id": args.render},
         f"Panel {args.panel} now uses render {args.render}.")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    studio = open_studio(args)
    if args.no_wait:
        return _finish(args, studio, None, [queue.retry(studio, args.render)])
    original = renders.get_render(studio, args.render)
    with render_runner(args, studio) as runner:
        if runner.generator.name != original.engine:
            raise InvalidInput(f"Render {args.render} was made with {original.engine}; retry it with --engine {original.engine}.")
        return _finish(args, studio, runner, [queue.retry(studio, args.render)])


def cmd_cancel(args: argparse.Namespace) -> int:
    job = queue.cancel(open_studio(args), args.render)
    text = "cancelled" if job.status == "cancelled" else "will stop at the engine's next step"
    emit(args, to_json(job), f"Render {job.id} {text}.")
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("add-panel", parents=[common], help="add a panel at the end of a project")
    p.add_argument("project", help="project name or id")
    p.add_argument("--prompt", required=True, help="what happens; refer to characters by name or alias")
    p.add_argument("--characters", help="comma-separated names or aliases, in order")
    p.add_argument("--caption")
    p.add_argument("--box", action="append", metavar="NAME=x0,y0,x1,y1", help="keep a character in a box (fractions)")
    p.add_argument("--say", action="append", metavar="NAME:KIND:TEXT", help=f"a dialogue line; KIND: {', '.join(BALLOON_KINDS)}")
    p.add_argument("--seed", type=number_arg)
    p.set_defaults(handler=cmd_add_panel)

    p = subparsers.add_parser("render", parents=[common], help="render panels (default: those without a render)")
    p.add_argument("project", help="project name or id")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--panel", type=number_arg, action="append", metavar="N", help="panel number (repeatable)")
    which.add_argument("--missing", action="store_true", help="panels without a selected render (default)")
    which.add_argument("--all", action="store_true", help="every panel")
    p.add_argument("--seed", help="a number, 'same' (the panel's, default) or 'new'")
    p.add_argument("--variants", type=number_arg, default=1, metavar="K", help="K renders with consecutive seeds")
    p.add_argument("--no-wait", action="store_true", help="only queue the jobs (for a running app's worker)")
    quality.add_options(p)
    add_cluster_flags(p, suppress=True)
    p.set_defaults(handler=cmd_render)

    p = subparsers.add_parser("renders", parents=[common], help="a panel's render history (* = selected)")
    p.add_argument("project", help="project name or id")
    p.add_argument("--panel", type=number_arg, required=True, metavar="N")
    p.set_defaults(handler=cmd_renders)

    p = subparsers.add_parser("select-render", parents=[common], help="choose the render a panel uses")
    p.add_argument("project", help="project name or id")
    p.add_argument("--panel", type=number_arg, required=True, metavar="N")
    p.add_argument("render", type=number_arg, help="render id (see `renders`)")
    p.set_defaults(handler=cmd_select_render)

    p = subparsers.add_parser("retry", parents=[common], help="queue a failed or cancelled render again and run it")
    p.add_argument("render", type=number_arg)
    p.add_argument("--no-wait", action="store_true", help="only queue it")
    add_cluster_flags(p, suppress=True)
    p.set_defaults(handler=cmd_retry)

    p = subparsers.add_parser("cancel", parents=[common], help="cancel a queued or running render")
    p.add_argument("render", type=number_arg)
    p.set_defaults(handler=cmd_cancel)
