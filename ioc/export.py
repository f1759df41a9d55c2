"""Tables a leader reads, as Excel workbooks (.xlsx) and CSV: KPI queries and the weekly report.

One builder for the API (`/api/v1/kpis/{id}?format=xlsx|csv`), the CLI (`ioc export`) and the
weekly report. Choices (also in README.md, "Excel and CSV"):

- **xlsx**: one sheet per section with its header row frozen, then a notes sheet with the window
  and each figure's definition (from `kpi_definitions`, the one catalogue). Cells hold real
  numbers (rates as fractions 0..1 with a `%` format, exactly the API's values) so leaders can
  sum and chart them. How the decimal separator looks is Excel's choice from the computer's
  regional settings (a Vietnamese Windows shows `0,69`); the formats of a Vietnamese workbook also
  carry the Vietnamese locale tag `[$-42A]`, which LibreOffice uses to show decimal commas
  whatever the computer's settings, and the workbook's language property is `vi-VN`.
- **CSV**: one table, UTF-8 with a BOM (Excel then reads Vietnamese text correctly). Vietnamese:
  `;` between fields and a decimal comma (`0,6875`), which a Vietnamese Excel opens as numbers;
  English: `,` and a decimal point. Numbers are written in full (no thousands separators, no
  rounding, never in exponent notation), rates as fractions like the API.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row, tuple_row

from ioc.report.texts import intermediary_name, texts
from ioc.report.week import TZ

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
Format = Literal["xlsx", "csv"]

# How a column's numbers are shown: an Excel number format per kind ("text" cells are left as
# they are). The `.` and `,` of a format are Excel's placeholders for the decimal and thousands
# separators, rendered by the reader's locale.
Kind = Literal["text", "ratio", "int", "decimal", "decimal1", "general", "datetime"]
_FORMATS: dict[str, str] = {
    "ratio": "0.00%", "int": "#,##0", "decimal": "#,##0.00", "decimal1": "#,##0.0",
    "general": "General", "datetime": "dd/mm/yyyy hh:mm",
}
VI_LOCALE_TAG = "[$-42A]"  # LCID 0x042A, Vietnamese
# A KPI value column's kind by the KPI's unit (kpi_definitions.unit).
UNIT_KINDS: dict[str, Kind] = {
    "ratio": "ratio", "ms": "int", "count": "int", "VND": "int", "working_days": "decimal",
    "days": "decimal", "per_hour": "decimal", "score": "decimal", "mixed": "general",
}
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Column:
    """A column: its header (already in the reader's language) and how its numbers look."""

    header: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Cell:
    """A value whose number format differs from its column's (a figure/value table)."""

    value: Any
    kind: Kind


@dataclass(frozen=True)
class Table:
    """One section: a sheet of the workbook, or the whole of a CSV file. `key` names it on the
    command line (`ioc export report --table systems`), `name` is the sheet's title."""

    key: str
    name: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class Export:
    """What a workbook holds: its sections, the window and the definitions of its figures."""

    title: str
    window: tuple[datetime, datetime]
    tables: Sequence[Table]
    definitions: Sequence[Mapping[str, Any]] = ()   # rows of kpi_definitions
    notes: Sequence[tuple[str, str]] = field(default_factory=tuple)   # extra (label, text)
    language: str = "vi"


def local(moment: datetime) -> datetime:
    """An aware instant as naive Vietnam local time (Excel cells have no time zone)."""
    return moment.astimezone(TZ).replace(tzinfo=None)


def _number_format(kind: Kind, language: str) -> str | None:
    fmt = _FORMATS.get(kind)
    if fmt is None or kind == "general":
        return fmt
    return VI_LOCALE_TAG + fmt if language == "vi" else fmt


def _sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name (at most 31 characters, none of []:*?/\\)."""
    base = _SHEET_NAME_BAD.sub("-", name).strip("'") or "Sheet"
    base = base[:31]
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def to_xlsx(export: Export) -> bytes:
    """The workbook: a sheet per table (header frozen, number formats), then the notes sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    t = texts(export.language)
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title = export.title
    wb.properties.language = "vi-VN" if export.language == "vi" else "en-GB"
    wb.properties.creator = "IOC"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="F2F2F2")
    taken: set[str] = set()

    def write(name: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
              widths: Sequence[int] | None = None) -> None:
        ws = wb.create_sheet(_sheet_name(name, taken))
        ws.append([c.header for c in columns])
        for cell in ws[1]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        formats = [_number_format(c.kind, export.language) for c in columns]
        for row in rows:
            ws.append([_cell(v) for v in row])
            for cell, fmt, v in zip(ws[ws.max_row], formats, row, strict=False):
                if isinstance(v, Cell):
                    fmt = _number_format(v.kind, export.language)
                if fmt is not None and not isinstance(cell.value, str):
                    cell.number_format = fmt
        ws.freeze_panes = "A2"
        for i, c in enumerate(columns, start=1):
            longest = max([len(str(c.header))] + [len(_shown(cell.value))
                                                   for (cell,) in ws.iter_rows(
                                                       min_row=2, min_col=i, max_col=i)])
            ws.column_dimensions[get_column_letter(i)].width = (
                widths[i - 1] if widths else min(max(10, longest + 2), 60))

    for table in export.tables:
        write(table.name, table.columns, table.rows)
    start, end = export.window
    notes: list[Sequence[Any]] = [
        (t["window"], f"{local(start):%d/%m/%Y %H:%M} – {local(end):%d/%m/%Y %H:%M}", "", "",
         ""),
        *[(label, text, "", "", "") for label, text in export.notes],
        (t["notes"], t["number_note"], "", "", ""),
        ("", "", "", "", ""),
        (t["figure"], t["name"], t["unit"], t["definition"], t["source"]),
        *[(d["id"], d["name_vi" if export.language == "vi" else "name_en"], d.get("unit", ""),
           d.get("formula", ""), d.get("source", "")) for d in export.definitions],
    ]
    write(t["notes"], [Column(export.title), Column(""), Column(""), Column(""), Column("")],
          notes, widths=(28, 50, 14, 90, 40))
    ws = wb[wb.sheetnames[-1]]
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ws[len(export.notes) + 5]:
        cell.font = bold
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, Cell):
        return _cell(value.value)
    if isinstance(value, datetime):
        return local(value) if value.tzinfo else value
    if isinstance(value, Decimal):
        return float(value)
    return value


def _shown(value: Any) -> str:
    if isinstance(value, Cell):
        value = value.value
    return "" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def csv_number(value: float | int | Decimal, language: str) -> str:
    """A number in full, never in exponent notation, with the language's decimal mark."""
    if isinstance(value, bool):
        return str(value).lower()
    text = format(Decimal(repr(value)) if isinstance(value, float) else Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "vi" else text


def to_csv(table: Table, language: str = "vi") -> bytes:
    """One table as CSV: UTF-8 with a BOM; `;` and decimal commas in Vietnamese."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if language == "vi" else ",", lineterminator="\r\n")
    writer.writerow([c.header for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(v, language) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_value(value: Any, language: str) -> str:
    if isinstance(value, Cell):
        value = value.value
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{_cell(value):%d/%m/%Y %H:%M}"
    if isinstance(value, int | float | Decimal):
        return csv_number(value, language)
    return str(value)


# --------------------------------------------------------------------------------------------
# A KPI query as a table


Names = Mapping[str, Mapping[str, str]]   # label key -> code -> written name
# Label keys whose codes have written names: agencies and procedures from the portal's
# catalogue (ioc_agency_name / ioc_procedure_name), intermediaries from texts.INTERMEDIARY_NAMES.
_NAMES_SQL = ("SELECT 'agency', c, ioc_agency_name(c) FROM unnest(%s::text[]) c UNION ALL "
              "SELECT 'procedure', c, ioc_procedure_name(c) FROM unnest(%s::text[]) c")


def _codes(rows: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    return sorted({str(r["labels"][key]) for r in rows if key in (r.get("labels") or {})})


def _names(rows: Sequence[Mapping[str, Any]], found: Iterable[Sequence[Any]]) -> dict[
        str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"agency": {}, "procedure": {}, "intermediary": {}}
    for key, code, name in found:
        if name != code:                      # the catalogue answers the code when it lacks it
            out[key][code] = name
    for code in _codes(rows, "intermediary"):
        name = intermediary_name(code)
        if name:
            out["intermediary"][code] = name
    return out


def label_names(conn: psycopg.Connection, rows: Sequence[Mapping[str, Any]]) -> Names:
    """Written names of the agency, procedure and intermediary codes in KPI rows."""
    with conn.cursor(row_factory=tuple_row) as cur:
        found = cur.execute(_NAMES_SQL, (_codes(rows, "agency"),
                                         _codes(rows, "procedure"))).fetchall()
    return _names(rows, found)


async def label_names_async(conn: psycopg.AsyncConnection[Any],
                            rows: Sequence[Mapping[str, Any]]) -> Names:
    """`label_names` over an async connection (the API's)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_NAMES_SQL, (_codes(rows, "agency"), _codes(rows, "procedure")))
        found = await cur.fetchall()
    return _names(rows, found)


def kpi_table(kpi: str, rows: Sequence[Mapping[str, Any]], definition: Mapping[str, Any] | None,
              language: str = "vi", names: Names | None = None) -> Table:
    """The rows of `ioc_kpi` (labels, value, numerator, denominator) as one table: a column per
    label key (in order of first appearance; agencies, procedures and intermediaries followed by
    their written names), then the value (formatted by the KPI's unit), the numerator and the
    denominator."""
    t = texts(language)
    names = names or {}
    keys: list[str] = []
    for r in rows:
        keys += [k for k in (r.get("labels") or {}) if k not in keys]
    name = kpi if definition is None else str(
        definition["name_vi" if language == "vi" else "name_en"])
    unit = "" if definition is None else str(definition.get("unit", ""))
    named = [k for k in keys if k in names]
    columns = [col for k in keys for col in (
        [Column(t.get(f"label.{k}", k))]
        + ([Column(t[f"label_name.{k}"])] if k in named else []))]
    columns += [Column(f"{name} ({unit})" if unit else name, UNIT_KINDS.get(unit, "general")),
                Column(t["numerator"], "general"), Column(t["denominator"], "general")]
    body = []
    for r in rows:
        labels = r.get("labels") or {}
        cells: list[Any] = []
        for k in keys:
            cells.append(labels.get(k))
            if k in named:
                cells.append(names[k].get(str(labels.get(k))))
        body.append([*cells, r.get("value"), r.get("numerator"), r.get("denominator")])
    return Table(kpi, kpi, columns, body)


def kpi_export(kpi: str, rows: Sequence[Mapping[str, Any]],
               definitions: Sequence[Mapping[str, Any]], window: tuple[datetime, datetime],
               filter: Mapping[str, Any] | None = None, language: str = "vi",
               names: Names | None = None) -> Export:
    """A KPI query as an export: its table and, on the notes sheet, its definition."""
    wanted = [d for d in definitions if d["id"] == kpi]
    table = kpi_table(kpi, rows, wanted[0] if wanted else None, language, names)
    notes = [("filter", _json(filter))] if filter else []
    title = f"{kpi}: {wanted[0]['name_vi' if language == 'vi' else 'name_en']}" if wanted else kpi
    return Export(title, window, [table], wanted, notes, language)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def render(export: Export, fmt: Format, table: str | None = None) -> bytes:
    """The export as bytes in `fmt`. CSV holds one table: the only one, or the one named."""
    if fmt == "xlsx":
        return to_xlsx(export)
    if fmt != "csv":
        raise ValueError(f"export format {fmt!r}: use xlsx or csv")
    if table is None and len(export.tables) == 1:
        return to_csv(export.tables[0], export.language)
    found = [tb for tb in export.tables if tb.key == table]
    if not found:
        names = ", ".join(tb.key for tb in export.tables)
        raise ValueError(f"a CSV file holds one table: choose one of {names}")
    return to_csv(found[0], export.language)


def definitions(conn: psycopg.Connection, ids: Iterable[str] | None = None
                ) -> list[dict[str, Any]]:
    """Rows of the KPI catalogue `kpi_definitions` (all, or those of `ids`, in id order)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT id, name_vi, name_en, unit, formula, source, rule "
                    "FROM kpi_definitions WHERE %s::text[] IS NULL OR id = ANY(%s::text[]) "
                    "ORDER BY id", (None if ids is None else list(ids),) * 2)
        return cur.fetchall()


# --------------------------------------------------------------------------------------------
# The weekly report's tables (from the report's stored data, so the workbook says what the PDF
# says)

REPORT_KPIS = ("availability", "latency.p95", "slo.error_budget", "slo.objective",
               "score.decision766", "766.1.4", "766.2.1", "766.2.2", "766.3.3", "766.3.6",
               "766.4.1", "766.4.2", "766.5.4", "payments.success_rate",
               "payments.settlement_lag", "recon.match_rate", "recon.open_breaks",
               "recon.unmatched_amount", "recon.break_age", "recon.pending",
               "documents.signing_rate", "documents.electronic_rate",
               "documents.national_axis_rate", "documents.overdue")
_SYSTEM_KEYS = {"portal": "portal", "payments": "payments_sys", "documents": "documents_sys"}


def report_tables(data: Mapping[str, Any]) -> list[Table]:
    """The weekly report's sections as tables, in the report's language."""
    lang = data["language"]
    t = texts(lang)
    c = Column

    def light(name: str | None) -> str:
        return t[name or "grey"]

    def minutes(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / 60, 1)

    systems = Table("systems", t["sheet.systems"], [
        c(t["system"]), c(t["availability"], "ratio"), c(t["prev_week"], "ratio"),
        c(t["objective"], "ratio"), c(t["budget"], "ratio"), c(t["latency"] + " (ms)", "int"),
        c(t["prev_week"] + " (ms)", "int"), c(t["objective"] + " (ms)", "int"),
        c(t["availability"] + " – " + t["light"]), c(t["latency"] + " – " + t["light"])],
        [[t[_SYSTEM_KEYS.get(s["system"], s["system"])] if s["system"] in _SYSTEM_KEYS
          else s["system"], s["availability"], s["availability_prev"], s["objective"],
          s["budget"], s["latency_p95"], s.get("latency_p95_prev"), s["latency_objective"],
          light(s["light_availability"]), light(s["light_latency"])]
         for s in data["systems"]])
    indicators = Table("indicators", t["sheet.indicators"], [
        c(t["indicator"]), c(t["name"]), c(t["rate"], "ratio"), c(t["prev_week"], "ratio"),
        c(t["days"], "decimal"), c(t["score"], "decimal"), c(t["prev_week"] + " – " + t["score"],
                                                             "decimal"),
        c(t["max"], "decimal"), c(t["light"])],
        [[i["id"], t.get("i" + i["id"], ""), i["rate"], i["rate_prev"],
          i["value"] if i["id"] == "2.2" else None, i["score"], i["score_prev"], i["max"],
          light(i["light"])] for i in data["indicators"]]
        + [[t["total"], "", None, None, None, data.get("score_total"),
            data.get("score_total_prev"), data.get("score_max"), light(data.get("light"))]])
    incidents = Table("incidents", t["incidents"], [
        c(t["rule"]), c(t["summary_col"]), c(t["system"]), c(t["severity"]),
        c(t["start"], "datetime"), c(t["end"], "datetime"),
        c(f"{t['duration']} ({t['minutes']})", "decimal1"),
        c(f"{t['tta']} ({t['minutes']})", "decimal1")],
        [[i["rule"], i.get("summary", ""), i["system"], i["severity"],
          datetime.fromisoformat(i["started_at"]),
          datetime.fromisoformat(i["resolved_at"]) if i["resolved_at"] else t["ongoing"],
          minutes(i["duration_s"]), minutes(i["tta_s"])] for i in data["incidents"]["items"]])
    pay = data["payments"]
    payments = Table("payments", t["sheet.payments"], [
        c(t["intermediary"]), c(t["code"]), c(t["success_rate"], "ratio"),
        c(t["prev_week"], "ratio"), c(t["lag"], "decimal")],
        [[p["name"] or p["intermediary"], p["intermediary"], p["success_rate"],
          p["success_rate_prev"], p["settlement_lag"]] for p in pay.get("intermediaries", [])])
    recon_rows: list[tuple[str, Any, Any, Kind]] = [
        (t["match_rate"], pay["match_rate"], pay["match_rate_prev"], "ratio"),
        (t["unmatched"] + " (₫)", pay["unmatched_amount"], None, "int"),
        (t["oldest"], pay["oldest_break_days"], None, "decimal"),
        (t["pending"].split(" (")[0].split(":")[0], pay.get("pending"), None, "int"),
        *[(f"{t['breaks']}: {t.get('break.' + k, k)}", v, None, "int")
          for k, v in pay["breaks"].items()]]
    docs = data["documents"]
    doc_kinds: dict[str, Kind] = {"signing_rate": "ratio", "electronic_rate": "ratio",
                                  "national_axis_rate": "ratio", "overdue": "int"}
    doc_rows = [(t[k], docs.get(k), docs.get(k + "_prev"), kind) for k, kind in doc_kinds.items()]
    reconciliation, documents = (
        Table(key, t.get(f"sheet.{key}", t[key]), [c(t["figure"]), c(t["value"], "general"),
                            c(t["prev_week"], "general")],
              [[label, Cell(now, kind), Cell(before, kind)] for label, now, before, kind in rows])
        for key, rows in (("reconciliation", recon_rows), ("documents", doc_rows)))
    slow = data["slowest"]
    procedures = Table("procedures", t["slow_procedures"], [
        c(t["rank"], "int"), c(t["procedure"]), c(t["code"]), c(t["days"], "decimal"),
        c(t["allowed"], "decimal"), c(t["vs_allowed"], "ratio"),
        c(t["prev_week"] + " – " + t["vs_allowed"], "ratio"), c(t["count"], "int")],
        [[n, p["name"] or p["procedure"], p["procedure"], p["days"], p.get("allowed_days"),
          p.get("ratio"), p.get("ratio_prev"), p["count"]]
         for n, p in enumerate(slow["procedures"], start=1)])
    agencies = Table("agencies", t["slow_agencies"], [
        c(t["rank"], "int"), c(t["agency"]), c(t["code"]), c(t["on_time"], "ratio"),
        c(t["prev_week"], "ratio"), c(t["late"], "int"), c(t["count"], "int")],
        [[n, a["name"] or a["agency"], a["agency"], a["rate"], a.get("rate_prev"), a["late"],
          a["total"]] for n, a in enumerate(slow["agencies"], start=1)])
    return [systems, indicators, incidents, payments, reconciliation, documents, procedures,
            agencies]


def workbook_of_report(conn: psycopg.Connection, data: Mapping[str, Any]) -> bytes:
    """The workbook of a built (or stored) weekly report's figures."""
    return to_xlsx(report_export(data, definitions(conn)))


def report_export(data: Mapping[str, Any], defs: Sequence[Mapping[str, Any]]) -> Export:
    """The weekly report as an export: its tables, its window, the definitions of its figures."""
    t = texts(data["language"])
    window = (datetime.fromisoformat(data["from"]), datetime.fromisoformat(data["to"]))
    notes = [(t["week"], data["week"]),
             (t["slowest"], t["slowest_rule"].format(n=data["slowest"].get("min_dossiers", 1))),
             (t["trend"], t["trend_note"]), ("2.2", t["note_22"])]
    return Export(f"{data.get('title') or t['title']} — {data['week']}", window,
                  report_tables(data), [d for d in defs if d["id"] in REPORT_KPIS], notes,
                  data["language"])
