"""The `esb` shim: friendly command names over the doit tasks, one-line errors, exit codes."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

from esb import overrides
from esb.invoke import cli as invoke_cli
from esb.box import service
from esb.errors import EsbError
from esb.project import ENGINES, Project, load_project
from esb.options import BUILD_FIRST, PARAMS, POS_ARGS, PROJECT_ONLY

BOX_HELP = {
    "up": "start the box (gateway, manager, stores)",
    "down": "stop the box",
    "reset": "delete all data and start from a clean build",
    "logs": "show log records",
    "status": "show functions, routes, sandboxes and URLs",
    "env": 'print shell exports for AWS tools: eval "$(esb env)"',
    "watch": "rebuild and reload on changes",
}




def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edge-serverless-box")
    except PackageNotFoundError:  # run from a checkout that was never installed
        from esb import __version__

        return __version__


class _VersionAction(argparse.Action):
    """argparse's version action, the version looked up only when asked for (importlib.metadata reads every
    installed package's metadata: time every other command would pay before it starts)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:  # (namespace, values, option string)
        sys.stdout.write(f"esb {_version()}\n")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="esb", description="Edge Serverless Box: a SAM template in, a Lambda box out.",
                                     epilog="exit codes: 0 ok, 1 error, 2 usage, 3 no box running (status, down, logs)")
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("-t", "--template", help="SAM template (default: ESB_TEMPLATE, ./template.yaml, project root, sample)")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks and task output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    init = sub.add_parser("init", help="write generator.yml (interactive unless --yes)")
    init.add_argument("-y", "--yes", action="store_true", help="accept defaults, do not ask")
    init.add_argument("--param", action="append", default=[], metavar="K=V", help="set a template parameter")
    init.add_argument("--tag", help="image tag (default: latest; docker engines only)")
    init.add_argument("--engine", choices=ENGINES,
                      help="engine `esb up` uses by default (written as generator.yml `engine:`)")
    init.add_argument("--output-dir", help="output tree (default: .esb/)")
    build = sub.add_parser("build", help="render and stage the output tree (incremental)")
    build.add_argument("--no-cache", action="store_true", help="redo every step")
    build.add_argument("--dry-run", action="store_true", help="print what would be written; write nothing")
    overrides.add_override_options(build)
    invoke_cli.add_parsers(sub)
    service.add_parser(sub)
    for command, params in PARAMS.items():
        box = sub.add_parser(command, help=BOX_HELP[command])
        if command == "up":
            overrides.add_override_options(box)
        if command in POS_ARGS:
            box.add_argument(POS_ARGS[command], nargs="?", help="function name")
        for param in params:
            flags = [f"--{param['long']}"] + ([f"-{param['short']}"] if param.get("short") else [])
            if param["type"] is bool:
                box.add_argument(*flags, dest=param["name"], action="store_true", help=param["help"])
            else:
                choices = [c for c, _ in param.get("choices", ())] or None
                box.add_argument(*flags, dest=param["name"], default=param["default"], choices=choices, help=param["help"])
    # `esb up -t app/template.yaml` works as `esb -t app/template.yaml up` does (SUPPRESS: absent, the
    # top-level value stands).
    for command_parser in sub.choices.values():
        command_parser.add_argument("-t", "--template", default=argparse.SUPPRESS,
                                    help="SAM template (as before the command)")
        command_parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                                    help="show tracebacks and task output")
    return parser


def _project(args: argparse.Namespace, *, overridden: bool = True) -> Project:
    project = load_project(args.template, cwd=Path.cwd(), env=os.environ)
    extra = overrides.overrides_from(args, Path.cwd()) if overridden else None
    return project.with_overrides(extra) if extra else project


def _context(args: argparse.Namespace, project: Project | None = None) -> Any:
    from esb.build.context import build_context

    ctx = build_context(project or _project(args), verbose=args.verbose)
    from esb import warned

    for warning in warned.fresh(ctx.tree.state, ctx.project.template, ctx.app.warnings, always=args.verbose):
        sys.stderr.write(f"warning: {warning}\n")
    return ctx


def cmd_init(args: argparse.Namespace) -> int:
    from esb.init_wizard import parse_assignments, run_wizard

    run_wizard(
        _project(args), assume_yes=args.yes, overrides=parse_assignments(args.param),
        tag=args.tag, output_dir=args.output_dir, engine=args.engine, out=sys.stdout,
    )
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    ctx = _context(args)
    if args.dry_run:
        from esb.build.plan import dry_run

        lines = dry_run(ctx)
        for line in lines:
            print(f"would {line}")
        print(f"dry run: {len(lines)} change(s), nothing written")
        return 0
    sys.stderr.write(f"building {ctx.project.template} -> {ctx.tree.root}\n")
    from esb.build.runner import run_doit

    return run_doit(ctx, ["run", *(["--always-execute"] if args.no_cache else []), "build"])


def _command_kwargs(command: str, args: argparse.Namespace) -> dict[str, Any]:
    kwargs = {param["name"]: getattr(args, param["name"]) for param in PARAMS[command]}
    if command in POS_ARGS:
        value = getattr(args, POS_ARGS[command])
        kwargs[POS_ARGS[command]] = [value] if value else []
    return kwargs


def box_command(command: str) -> Callable[[argparse.Namespace], int]:
    """The body in esb.commands, run directly. down/status/logs get the project only (its recorded box state;
    the template is never loaded); up/reset/watch get the loaded template, after doit built what they need."""

    def run(args: argparse.Namespace) -> int:
        from esb import commands

        body = getattr(commands, f"{command}_command")
        if command in PROJECT_ONLY:
            body(_project(args), **_command_kwargs(command, args))
            return 0
        from esb.build.runner import run_doit

        ctx = _context(args)
        if BUILD_FIRST[command]:
            # `up --build` forces every task under it (build, rie) the doit way.
            always = ["--always-execute"] if getattr(args, "build", False) else []
            code = run_doit(ctx, ["run", *always, *BUILD_FIRST[command]])
            if code != 0:
                return code
        body(ctx, **_command_kwargs(command, args))
        return 0

    return run


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "init": cmd_init,
    "build": cmd_build,
    **{command: box_command(command) for command in PARAMS},
    "service": lambda args: service.run(_project(args), args),
    "invoke": lambda args: invoke_cli.invoke_command(args, _project(args, overridden=False),
                                                     lambda project: _context(args, project)),
    "generate-event": invoke_cli.generate_event_command,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage or help
        return int(exc.code or 0)
    try:
        return COMMANDS[args.command](args)
    except EsbError as exc:
        if args.verbose:
            traceback.print_exc()
        if not exc.quiet:
            sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`esb status --json | head`): not an error; keep Python's exit flush quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place a foreign exception becomes one line
        if args.verbose:
            traceback.print_exc()
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc} (run with --verbose for the traceback)\n")
        return 1


def run() -> None:
    code = main()
    # The process ends here: the interpreter's last full collection would walk every object it made (after
    # `esb up`, boto3's models: 0.1 s before the shell gets its prompt back, issue 14) only to free them, and
    # the exit frees the memory anyway. Not in main(): tests call it in-process.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
