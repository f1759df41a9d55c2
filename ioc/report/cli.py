"""`ioc report weekly` (on demand, to a file) and `ioc report schedule` (the sending loop)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ioc import db
from ioc.config.holder import ConfigHolder
from ioc.config.issues import ConfigError
from ioc.export import workbook_of_report
from ioc.report import store
from ioc.report.build import MIN_DOSSIERS
from ioc.report.week import Week
from ioc.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    """Add `report weekly` and `report schedule`."""
    parser = subparsers.add_parser("report", help="weekly SLA report for leaders")
    sub = parser.add_subparsers(title="report commands", metavar="COMMAND")
    weekly = sub.add_parser("weekly", help="generate a weekly report into a file")
    weekly.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: last week)")
    weekly.add_argument("--format", choices=("pdf", "html", "xlsx"), default="pdf",
                        help="xlsx: the report's tables (same figures, see also ioc export)")
    weekly.add_argument("--lang", choices=("vi", "en"), default="vi")
    weekly.add_argument("--out", required=True, type=Path, help="file to write")
    weekly.add_argument("--min-dossiers", type=int, default=MIN_DOSSIERS,
                        help="least dossiers for a procedure or agency to be ranked among the "
                        f"slowest (default {MIN_DOSSIERS})")
    weekly.set_defaults(func=run_weekly)
    schedule = sub.add_parser("schedule", help="send the weekly report on schedule (loop)")
    schedule.add_argument("--interval", type=float, default=60.0, help="seconds between checks")
    schedule.set_defaults(func=run_schedule_cmd)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run_weekly(args: argparse.Namespace) -> int:
    """Generate (or reuse the unchanged latest version of) a week's report and write it."""
    try:
        settings = Settings.from_env()
        week = Week.parse(args.week) if args.week else \
            Week.containing(datetime.now(UTC)).previous()
        if args.min_dossiers < 1:
            raise ValueError(f"--min-dossiers must be at least 1, not {args.min_dossiers}")
    except (SettingsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    with db.connect(settings.database_url) as conn:
        report = store.generate(conn, week, now=now, language=args.lang,
                                pdf=args.format == "pdf", min_dossiers=args.min_dossiers)
        body = workbook_of_report(conn, report.data) if args.format == "xlsx" else \
            report.pdf if args.format == "pdf" else report.html.encode()
    assert body is not None
    args.out.write_bytes(body)
    print(f"report {report.period} v{report.version} ({args.lang}) written to {args.out}")
    return 0


def run_schedule_cmd(args: argparse.Namespace) -> int:
    """Run the sending loop with the config directory of the settings."""
    from ioc.report.schedule import run_schedule

    try:
        settings = Settings.from_env(process="report")
        holder = ConfigHolder(settings.config_dir)
    except (SettingsError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with db.connect(settings.database_url) as conn:
        run_schedule(conn, holder, interval_s=max(args.interval, 1.0))
    return 0



