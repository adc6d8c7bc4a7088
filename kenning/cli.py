"""The ``kenning`` command: one front door over the library functions the invoke tasks call.

::

    kenning list [FAMILY]                 short names of datasets, models, compilers, runtimes...
    kenning run FILE.yaml [ARGS...]       a scenario file: train, compile, bench, report
    kenning run SCENARIO [ARGS...]        a scenario, e.g. kenning run inference_tester -h
    kenning report RESULTS... TITLE OUT   render a report (render_report's flags)
    kenning boards [--check]              the inventory's boards; --check probes them
    kenning completion                    a bash completion script (eval "$(kenning completion)")

``invoke`` stays the task runner of the containerised toolchain (images, compile in images,
bench on boards, reproduce); ``kenning`` needs no checkout and no Docker.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import kenning
from kenning.core.registry import FAMILIES, SHORT_NAMES
from kenning.utils.argparser import ArgumentParser
from kenning.utils.cli import run as run_main
from kenning.utils.errors import ConfigurationError


def scenarios() -> list[str]:
    """Names of the runnable scenarios (``kenning.scenarios.<name>`` with a ``main``)."""
    import kenning.scenarios as package

    return sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in ("common",)
    )


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="kenning",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kenning {kenning.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="short names of the classes, by family")
    listing.add_argument("family", nargs="?", choices=sorted(FAMILIES), help="only this family")
    runner = sub.add_parser(
        "run", help="run a scenario", description=f"Scenarios: {', '.join(scenarios())}."
    )
    runner.add_argument(
        "scenario", help="a scenario file (e.g. scenarios/digits.yaml) or a scenario module name"
    )
    runner.add_argument("args", nargs=argparse.REMAINDER, help="its arguments (-h: its help)")
    report = sub.add_parser("report", help="render a report from results files", add_help=False)
    report.add_argument("args", nargs=argparse.REMAINDER, help="render_report's arguments")
    boards = sub.add_parser("boards", help="list the inventory's boards (--check: probe them)")
    boards.add_argument("--check", action="store_true", help="probe every board in parallel")
    boards.add_argument("--board", action="append", default=[], help="with --check: only this")
    boards.add_argument(
        "--trust-host-key", action="store_true", help="with --check: accept unknown host keys"
    )
    sub.add_parser("completion", help="print a bash completion script")
    return parser


def _list(family: str | None) -> None:
    for name in sorted(SHORT_NAMES):
        if family and name != family:
            continue
        print(f"{name}:")
        for short, path in sorted(SHORT_NAMES[name].items()):
            print(f"  {short:22} {path}")


def _run(scenario: str, args: Sequence[str]) -> int:
    if scenario.endswith((".yaml", ".yml", ".json")) or "/" in scenario:
        return _run("run", [scenario, *args])  # a scenario file
    if scenario not in scenarios():
        raise ConfigurationError(
            f"unknown scenario '{scenario}'; scenarios: {', '.join(scenarios())}"
        )
    module = importlib.import_module(f"kenning.scenarios.{scenario}")
    return int(module.main(list(args)) or 0)


def _boards(check: bool, only: list[str], trust: bool) -> int:
    from kenning.boards import check_boards, format_boards, format_table, load_inventory

    inventory = load_inventory()
    if not check:
        print(format_boards(inventory), end="")
        return 0
    statuses = check_boards(inventory, only or None, trust_unknown_host=trust)
    print(format_table(statuses), end="")
    failing = [s.name for s in statuses if not s.ok]
    if failing:
        raise ConfigurationError(f"boards with problems: {', '.join(failing)}")
    return 0


_COMPLETION = """\
_kenning() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "list run report boards completion --help --version" -- "$cur"))
    elif [ "${{COMP_WORDS[1]}}" = run ] && [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W "{scenarios}" -- "$cur"))
    elif [ "${{COMP_WORDS[1]}}" = list ]; then
        COMPREPLY=($(compgen -W "{families}" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "{names}" -f -- "$cur"))
    fi
}}
complete -F _kenning kenning
"""


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``kenning`` command (exits with the command's status)."""
    run_main(_dispatch, argv)


def _dispatch(argv: Sequence[str]) -> int:
    if list(argv[:1]) == ["report"]:  # every word after it is render_report's, -h included
        return _run("render_report", argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "list":
        _list(args.family)
        return 0
    if args.command == "run":
        return _run(args.scenario, args.args)
    if args.command == "report":
        return _run("render_report", args.args)
    if args.command == "boards":
        return _boards(args.check, args.board, args.trust_host_key)
    names = " ".join(sorted({s for family in SHORT_NAMES.values() for s in family}))
    print(
        _COMPLETION.format(
            scenarios=" ".join(scenarios()), families=" ".join(sorted(FAMILIES)), names=names
        ),
        end="",
    )
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
