"""`ioc export kpi` and `ioc export report`: a KPI query or the weekly report's tables to a file
(.xlsx or .csv, see ioc.export for the choices)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ioc import db, export
from ioc.kpi import KpiError, read_kpi
from ioc.report.build import MIN_DOSSIERS, build_report
from ioc.report.week import Week
from ioc.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    """Add `export kpi` and `export report`."""
    parser = subparsers.add_parser("export", help="KPI values or the weekly report's tables "
                                   "as an Excel workbook or CSV")
    sub = parser.add_subparsers(title="export commands", metavar="WHAT")
    kpi = sub.add_parser("kpi", help="one KPI over a window")
    kpi.add_argument("kpi", help="KPI id, e.g. availability or 766.2.1 (see docs/KPI.md)")
    kpi.add_argument("--from", dest="from_", type=_instant,
                     help="window start, RFC 3339 with a zone (default: 24 h before --to)")
    kpi.add_argument("--to", type=_instant, help="window end (default: now)")
    kpi.add_argument("--week", help="the window is this ISO week instead, e.g. 2026-W47")
    kpi.add_argument("--filter", default="{}", help='JSON object, e.g. {"by": "agency"}')
    report = sub.add_parser("report", help="the weekly report's tables")
    report.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: last week)")
    report.add_argument("--table", help="with --format csv: the table to write (systems, "
                        "indicators, incidents, payments, reconciliation, documents, "
                        "procedures, agencies)")
    report.add_argument("--min-dossiers", type=int, default=MIN_DOSSIERS,
                        help="least dossiers for a procedure or agency to be ranked among the "
                        f"slowest (default {MIN_DOSSIERS})")
    for p in (kpi, report):
        p.add_argument("--format", choices=("xlsx", "csv"),
                       help="default: from the file name's extension, else xlsx")
        p.add_argument("--lang", choices=("vi", "en"), default="vi")
        p.add_argument("--out", required=True, type=Path, help="file to write")
    kpi.set_defaults(func=run_kpi)
    report.set_defaults(func=run_report)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. +07:00 or Z")
    return moment


def _format(args: argparse.Namespace) -> export.Format:
    if args.format:
        return args.format
    return "csv" if args.out.suffix.lower() == ".csv" else "xlsx"


def _window(args: argparse.Namespace) -> tuple[datetime, datetime]:
    if args.week:
        if args.from_ or args.to:
            raise ValueError("give either --week or --from/--to")
        week = Week.parse(args.week)
        return week.start, week.end
    end = args.to or datetime.now(UTC)
    start = args.from_ or end - timedelta(hours=24)
    if start >= end:
        raise ValueError("--from must be before --to")
    return start, end


def run_kpi(args: argparse.Namespace) -> int:
    """Write one KPI's rows for the window, with its definition on the notes sheet."""
    try:
        settings = Settings.from_env()
        window = _window(args)
        wanted = json.loads(args.filter)
        if not isinstance(wanted, dict):
            raise ValueError("--filter must be a JSON object")
        with db.connect(settings.database_url) as conn:
            rows = [{"labels": r.labels, "value": r.value, "numerator": r.numerator,
                     "denominator": r.denominator}
                    for r in read_kpi(conn, args.kpi, *window, wanted)]
            spec = export.kpi_export(args.kpi, rows, export.definitions(conn, [args.kpi]),
                                     window, wanted, args.lang, export.label_names(conn, rows))
        body = export.render(spec, _format(args))
    except (SettingsError, KpiError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.write_bytes(body)
    print(f"{args.kpi}: {len(rows)} rows written to {args.out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Write the weekly report's tables (figures as the report has them)."""
    try:
        settings = Settings.from_env()
        week = Week.parse(args.week) if args.week else \
            Week.containing(datetime.now(UTC)).previous()
        with db.connect(settings.database_url) as conn:
            data = build_report(conn, week, now=datetime.now(UTC), language=args.lang,
                                min_dossiers=args.min_dossiers)
            spec = export.report_export(data, export.definitions(conn))
        body = export.render(spec, _format(args), args.table)
    except (SettingsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.write_bytes(body)
    print(f"report {week} ({args.lang}) tables written to {args.out}")
    return 0
