"""The `ioc` command line: one entry point whose subcommands each package registers."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

# Each module listed here provides `register(subparsers)`, adding its subcommands and setting
# `func` (a callable taking the parsed namespace and returning an exit code) on each parser.
# Modules that are missing are skipped, so a package can be developed before it is wired.
COMMAND_MODULES: tuple[str, ...] = (
    "ioc.db_cli",
    "ioc.config.cli",
    "sim.cli",
    "collectors.cli",
    "alerts.cli",
    "ioc.api.cli",
    "ioc.report.cli",
    "ioc.tokens_cli",
    "ioc.grafana.cli",
    "ioc.demo",
    "ioc.drill.cli",
    "ioc.export_cli",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="ioc",
        description=(
            "Smart operations centre (IOC): monitor the public-service portal, the payment "
            "gateway and the electronic document system; alert, show wall screens, report SLA."
        ),
        epilog="Settings come from the environment (IOC_DATABASE_URL, IOC_CONFIG_DIR, ...); "
        "see README.md.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
