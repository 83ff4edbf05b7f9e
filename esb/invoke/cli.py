"""The `esb invoke` and `esb generate-event` commands: their argparse parsers and bodies."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable

from esb.overrides import add_override_options, overrides_from
from esb.project import Project

BuildContextFor = Callable[[Project], Any]  # loads the template, prints its warnings: esb.cli's one way


def add_parsers(sub: Any) -> None:
    from esb.invoke.sample_events import COMMON, SAMPLES

    invoke = sub.add_parser("invoke", help="invoke one function once (result on stdout, its log on stderr)")
    invoke.add_argument("function", nargs="?", help="logical id or FunctionName (optional with one function)")
    invoke.add_argument("-e", "--event", metavar="FILE", help="event JSON file, or - for stdin (default: {})")
    invoke.add_argument("-d", "--debug-port", type=int, metavar="PORT",
                        help="start the function under debugpy on 127.0.0.1:PORT and wait for the debugger")
    add_override_options(invoke)
    generate = sub.add_parser("generate-event", help="print a sample event (as `sam local generate-event`)")
    services = generate.add_subparsers(dest="service", metavar="SERVICE", required=True)
    events: dict[str, Any] = {}
    for sample in SAMPLES:
        if sample.service not in events:
            events[sample.service] = services.add_parser(sample.service, help=f"{sample.service} events").add_subparsers(
                dest="event", metavar="EVENT", required=True)
        parser = events[sample.service].add_parser(sample.event, help=sample.help)
        for option in (*COMMON, *sample.options):
            parser.add_argument(f"--{option.name}", dest=_dest(option.name), default=option.default,
                                help=f"{option.help} (default: {option.default!r})")


def _dest(name: str) -> str:
    return "event_" + name.replace("-", "_")


def generate_event_command(args: argparse.Namespace) -> int:
    from esb.invoke.sample_events import COMMON, find, generate

    sample = find(args.service, args.event)
    values = {option.name: getattr(args, _dest(option.name)) for option in (*COMMON, *sample.options)}
    sys.stdout.write(generate(args.service, args.event, values))
    return 0


def invoke_command(args: argparse.Namespace, project: Project, context_for: BuildContextFor) -> int:
    """Build (as `up` does), then one invocation; `project` is without this call's overrides: they change
    this call's environment only, never the build or a running box."""
    from esb.box.launch import running_state
    from esb.build.rie import ensure_rie
    from esb.build.runner import run_doit
    from esb.invoke import run as invoke
    from esb.paths import cache_dir
    from esb_runtime.gateway.trace import generate

    cwd = Path.cwd()
    payload = invoke.read_event(args.event, sys.stdin, cwd)  # before the build: a bad event fails fast
    ctx = context_for(project)
    fn = invoke.pick_function(ctx.app, args.function)
    code = run_doit(ctx, ["run", "build", "rie"])
    if code != 0:
        return code
    overrides = overrides_from(args, cwd)
    environment = None
    if overrides:
        from esb.build.context import load_application

        changed = load_application(project.with_overrides(overrides))
        for warning in changed.warnings:
            if warning not in ctx.app.warnings:
                sys.stderr.write(f"warning: {warning}\n")
        environment = invoke.pick_function(changed, fn.logical_id).env
    tree, trace = ctx.tree, generate().header
    state = running_state(tree)
    if environment is None and args.debug_port is None and invoke.manager_answers(tree, state):
        result = invoke.invoke_via_manager(tree, fn.name, payload, sys.stderr, trace_id=trace)
        return invoke.exit_code(result, sys.stdout, sys.stderr)
    rie = ensure_rie(cache_dir(), explicit=os.environ.get("ESB_RIE_PATH") or None)
    spec = invoke.sandbox_spec(tree, fn, environment=environment, state=state, rie_path=rie,
                               debug_port=args.debug_port)
    if args.debug_port is not None:
        spec = invoke.with_debugger(spec, cache_dir())
    if state is None:
        sys.stderr.write("note: no box running: the function's AWS SDK calls fail here (start one with `esb up -d`)\n")
    if args.debug_port is not None:
        sys.stderr.write(f"debugpy listens on 127.0.0.1:{args.debug_port}: attach your debugger to run the function\n")
    result = invoke.invoke_in_sandbox(invoke.process_engine(tree, rie), spec, payload, sys.stderr, trace_id=trace,
                                      verbose=args.verbose)
    return invoke.exit_code(result, sys.stdout, sys.stderr)
