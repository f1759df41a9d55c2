"""`ioc drill`: the fault drill of the simulated province; prints the verdict table."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ioc.drill.drill import run_drill
from ioc.drill.run import DrillOptions, DrillRefused
from ioc.drill.verdict import all_pass, format_table, write_json
from ioc.settings import redact_url, settings_or_exit


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drill", help="fault drill: a scripted hour of the simulated province, then verdicts",
        description="Runs the simulated province with faults of every kind while the "
        "collectors, the alert engine (`ioc alerts`), the report, the API and the dashboard "
        "queries watch; checks alerts, notifications, stored samples, report incidents and "
        "KPI agreement. Uses IOC_DATABASE_URL, which must hold no other data (or --force). "
        "Exit 0 only if every check passes.")
    p.add_argument("--scale", type=_positive, default=60.0,
                   help="scripted seconds per real second (default 60: the hour in a minute)")
    p.add_argument("--reduced", action="store_true",
                   help="the short CI script: five fault kinds, nine scripted minutes")
    p.add_argument("--out", type=Path, default=None, help="also write the verdicts as JSON")
    p.add_argument("--force", action="store_true",
                   help="run even though the database holds data that is not the drill's")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the drill's config, spool and alert-engine log here "
                   "(default: a temporary directory)")
    p.set_defaults(func=cmd_drill)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid scale {text!r}: give a number above 0, "
                                         "e.g. 60")
    return value


def cmd_drill(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    options = DrillOptions(scale=args.scale, reduced=args.reduced, force=args.force)
    with tempfile.TemporaryDirectory(prefix="ioc-drill-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            verdicts = run_drill(settings.database_url, options, workdir)
        except DrillRefused as exc:
            print(f"error: {redact_url(settings.database_url)}: {exc}", file=sys.stderr)
            return 2
        except RuntimeError as exc:
            print(f"error: the drill could not run: {exc}", file=sys.stderr)
            return 1
    print(format_table(verdicts))
    if args.out is not None:
        write_json(verdicts, args.out)
    return 0 if all_pass(verdicts) else 1
