"""`ioc config check [DIR]`: validate a config directory and print every problem."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ioc.config.loader import check_config
from ioc.config.reference import render

EXIT_OK = 0
EXIT_INVALID = 2


def default_dir() -> Path:
    """IOC_CONFIG_DIR, else ./config."""
    return Path(os.environ.get("IOC_CONFIG_DIR") or "config")


def register(subparsers: Any) -> None:
    """Add the `config` command and its subcommands."""
    parser = subparsers.add_parser("config", help="check the province configuration")
    sub = parser.add_subparsers(title="config commands", metavar="ACTION")
    check = sub.add_parser(
        "check", help="validate a config directory; exit 0 if valid, 2 if not",
        description="Read every *.yaml in DIR, validate it and cross-check names. Prints each "
        "problem as FILE:LINE:COLUMN: PATH: MESSAGE; hint: FIX.")
    check.add_argument("dir", nargs="?", type=Path, default=None, metavar="DIR",
                       help="config directory (default: $IOC_CONFIG_DIR or ./config)")
    check.set_defaults(func=run_check)
    reference = sub.add_parser("reference", help="print the field reference (Markdown)")
    reference.set_defaults(func=run_reference)
    parser.set_defaults(func=lambda args: _help(parser))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_INVALID


def run_check(args: argparse.Namespace) -> int:
    """Print warnings and errors; `OK: ...` and 0 when the config is usable, else 2."""
    directory: Path = args.dir or default_dir()
    result = check_config(directory)
    for warning in result.warnings:
        print(warning)
    if result.config is None:
        for error in result.errors:
            print(error)
        print(f"{len(result.errors)} error(s) in {directory}: the config was not accepted",
              file=sys.stderr)
        return EXIT_INVALID
    print(f"OK: {result.config.summary()} ({result.config.province.name}, {directory})")
    return EXIT_OK


def run_reference(args: argparse.Namespace) -> int:
    """Print every section's fields with type, default and meaning."""
    print(render())
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """`python -m ioc.config.cli check [DIR]`: the same check without the other commands."""
    parser = argparse.ArgumentParser(prog="ioc")
    register(parser.add_subparsers())
    args = parser.parse_args(["config", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
