"""KPI queries and the weekly report as Excel workbooks and CSV, read back: the same figures as
the API's JSON, Vietnamese headers, frozen headers, a notes sheet, CSV with BOM and `;`/`,`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kpi.records import DOSSIERS, load
from openpyxl import load_workbook

from ioc import db
from ioc.kpi.calendar import sync_calendar
from ioc.report.week import Week

from .conftest import Tokens
from .server import ApiServer

W18 = Week.parse("2026-W18")      # the seeded week (tests/kpi/records.py), long past
WINDOW = {"from": W18.start.isoformat(), "to": W18.end.isoformat()}
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def client(api_server: ApiServer, api_tokens: Tokens, api_db: str) -> Iterator[httpx.Client]:
    with db.connect(api_db) as conn:
        sync_calendar(conn)
        load(conn, "dossiers", DOSSIERS)
        load(conn, "agencies", [{"code": "STP", "name": "Sở Tư pháp"},
                                {"code": "SXD", "name": "Sở Xây dựng"}])
    with httpx.Client(base_url=api_server.url, timeout=60,
                      headers={"Authorization": f"Bearer {api_tokens.viewer}"}) as c:
        yield c


def _get(client: httpx.Client, kpi: str, **params: str) -> httpx.Response:
    resp = client.get(f"/api/v1/kpis/{kpi}", params={**WINDOW, **params})
    assert resp.status_code == 200, resp.text
    return resp


def _sheet_rows(ws: Any) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_kpi_workbook_holds_the_api_figures(client: httpx.Client) -> None:
    params = {"filter": json.dumps({"by": "agency"})}
    api = _get(client, "766.2.1", **params).json()["values"]
    assert {r["labels"]["agency"] for r in api} == {"STP", "SXD"}
    resp = _get(client, "766.2.1", format="xlsx", **params)
    assert resp.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in resp.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(resp.content))
    assert wb.sheetnames == ["766.2.1", "Ghi chú"]
    ws = wb["766.2.1"]
    assert ws.freeze_panes == "A2"
    header, *rows = _sheet_rows(ws)
    assert header == ["Cơ quan", "Tên cơ quan",
                      "Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn (ratio)", "Tử số", "Mẫu số"]
    # the cells hold the API's numbers exactly, shown as percentages in the Vietnamese locale
    assert {r[0]: tuple(r[2:]) for r in rows} == {
        r["labels"]["agency"]: (r["value"], r["numerator"], r["denominator"]) for r in api}
    assert {r[0]: r[1] for r in rows} == {"STP": "Sở Tư pháp", "SXD": "Sở Xây dựng"}
    assert ws["C2"].number_format == "[$-42A]0.00%"
    assert wb.properties.language == "vi-VN"
    notes = _sheet_rows(wb["Ghi chú"])
    text = "\n".join(" ".join(str(v) for v in r if v) for r in notes)
    assert "27/04/2026 00:00 – 04/05/2026 00:00" in text          # the window, local time
    assert '{"by": "agency"}' in text
    catalogue = {d["id"]: d for d in client.get("/api/v1/kpis").json()}
    [definition] = [r for r in notes if r[0] == "766.2.1"]
    assert definition[1:4] == ["Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn", "ratio",
                               catalogue["766.2.1"]["formula"]]


def test_kpi_workbook_in_english(client: httpx.Client) -> None:
    api = _get(client, "766.2.2").json()["values"]
    wb = load_workbook(io.BytesIO(_get(client, "766.2.2", format="xlsx", lang="en").content))
    assert wb.sheetnames == ["766.2.2", "Notes"]
    header, [value, numerator, denominator] = _sheet_rows(wb["766.2.2"])
    assert header == ["Mean processing time (working_days)", "Numerator", "Denominator"]
    # xlsx keeps 15-16 significant digits (Excel itself computes with 15)
    assert value == pytest.approx(api[0]["value"], rel=1e-15)
    assert (numerator, denominator) == (23.125, 6)
    assert wb["766.2.2"]["A2"].number_format == "#,##0.00"


def test_kpi_csv_has_a_bom_decimal_commas_and_vietnamese_headers(client: httpx.Client) -> None:
    api = _get(client, "766.2.2", filter='{"by": "procedure"}').json()["values"]
    resp = _get(client, "766.2.2", format="csv", filter='{"by": "procedure"}')
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.content.startswith(BOM)
    text = resp.content.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert header == ["Thủ tục", "Tên thủ tục", "Thời gian giải quyết trung bình (working_days)",
                      "Tử số", "Mẫu số"]
    [(code, name, value, numerator, denominator)] = rows
    assert (code, name, numerator, denominator) == ("P1", "", "23,125", "6")   # not catalogued
    assert "," in value and "." not in value
    assert float(value.replace(",", ".")) == api[0]["value"]     # written in full
    en = _get(client, "766.2.2", format="csv", lang="en").content.decode("utf-8-sig")
    assert en.splitlines()[1] == f"{api[0]['value']!r},23.125,6"   # ungrouped: no label


def test_bad_export_format_is_refused(client: httpx.Client) -> None:
    resp = client.get("/api/v1/kpis/766.2.2", params={**WINDOW, "format": "pdf"})
    assert resp.status_code == 422 and "format" in resp.text
    assert client.get("/api/v1/kpis/no.such", params={**WINDOW, "format": "xlsx"}
                      ).status_code == 404


def _cli(api_db: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, IOC_DATABASE_URL=api_db, IOC_STATE_DIR=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "ioc.cli", "export", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_exports_the_weekly_report_tables_with_the_api_figures(
        client: httpx.Client, api_db: str, tmp_path: Path) -> None:
    out = tmp_path / "w18.xlsx"
    done = _cli(api_db, tmp_path, "report", "--week", "2026-W18", "--min-dossiers", "3",
                "--out", str(out))
    assert done.returncode == 0, done.stderr
    wb = load_workbook(out)
    assert wb.sheetnames == ["Hệ thống", "Chỉ số 766", "Sự cố", "Thanh toán", "Đối soát",
                             "Văn bản", "Thủ tục chậm nhất", "Cơ quan chậm nhất", "Ghi chú"]
    assert all(wb[name].freeze_panes == "A2" for name in wb.sheetnames)
    header, *rows = _sheet_rows(wb["Chỉ số 766"])
    assert header[:5] == ["Chỉ số", "Tên", "Tỷ lệ", "Tuần trước", "Số ngày làm việc TB"]
    by_id = {r[0]: r for r in rows}
    on_time = _get(client, "766.2.1").json()["values"][0]["value"]
    processing = _get(client, "766.2.2").json()["values"][0]["value"]
    assert by_id["2.1"][2] == pytest.approx(on_time, rel=1e-15)
    assert by_id["2.2"][4] == pytest.approx(processing, rel=1e-15)
    header, *agencies = _sheet_rows(wb["Cơ quan chậm nhất"])
    api = {r["labels"]["agency"]: r["value"] for r in
           _get(client, "766.2.1", filter='{"by": "agency"}').json()["values"]}
    assert [(a[1], a[2], a[3]) for a in agencies] == [
        ("Sở Tư pháp", "STP", pytest.approx(api["STP"], rel=1e-15)),
        ("Sở Xây dựng", "SXD", pytest.approx(api["SXD"], rel=1e-15))]
    notes = "\n".join(" ".join(str(v) for v in r if v) for r in _sheet_rows(wb["Ghi chú"]))
    assert "2026-W18" in notes and "có từ 3 hồ sơ trở lên" in notes
    assert "766.2.2 Thời gian giải quyết trung bình working_days" in notes

    csv_out = tmp_path / "procedures.csv"
    done = _cli(api_db, tmp_path, "report", "--week", "2026-W18", "--table", "procedures",
                "--out", str(csv_out))
    assert done.returncode == 0, done.stderr
    header, [row] = (lambda r: (r[0], r[1:]))(list(csv.reader(io.StringIO(
        csv_out.read_bytes().decode("utf-8-sig")), delimiter=";")))
    assert header[:4] == ["Hạng", "Thủ tục", "Mã", "Số ngày làm việc TB"]
    assert row[:3] == ["1", "P1", "P1"] and float(row[3].replace(",", ".")) == processing

    bad = _cli(api_db, tmp_path, "report", "--week", "2026-W18", "--format", "csv",
               "--out", str(csv_out))
    assert bad.returncode == 2 and "choose one of systems, indicators" in bad.stderr


def test_cli_exports_a_kpi(client: httpx.Client, api_db: str, tmp_path: Path) -> None:
    out = tmp_path / "k.csv"
    done = _cli(api_db, tmp_path, "kpi", "766.2.1", "--week", "2026-W18", "--filter",
                '{"by": "agency"}', "--lang", "en", "--out", str(out))
    assert done.returncode == 0, done.stderr
    api = {r["labels"]["agency"]: r["value"] for r in
           _get(client, "766.2.1", filter='{"by": "agency"}').json()["values"]}
    header, *rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert header[:2] == ["Agency", "Agency name"]
    assert {r[0]: float(r[2]) for r in rows} == api
    assert {r[0]: r[1] for r in rows} == {"STP": "Sở Tư pháp", "SXD": "Sở Xây dựng"}
    bad = _cli(api_db, tmp_path, "kpi", "766.2.1", "--week", "2026-W18", "--filter",
               '{"colour": "red"}', "--out", str(out))
    assert bad.returncode == 2 and "error:" in bad.stderr
