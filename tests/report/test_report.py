"""The weekly report: figures known by hand, Vietnamese PDF that renders, versions, freezing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from kpi.records import dossier, load, local
from openpyxl import load_workbook

from ioc import db
from ioc.kpi.calendar import sync_calendar
from ioc.report import store
from ioc.report.build import build_report
from ioc.report.render import render_html
from ioc.report.week import Week

from .seed import seed_week

W18 = Week.parse("2026-W18")
NOW = datetime(2026, 5, 4, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def conn(make_db: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with db.connect(make_db()) as c:
        sync_calendar(c)
        seed_week(c)
        # the portal catalogue, as the records targets sync it; SXD's name must come out escaped
        c.execute("SELECT ioc_upsert_records('agencies', %s::jsonb)", (json.dumps([
            {"code": "STP", "name": "Sở Tư pháp", "kind": "department"},
            {"code": "SXD", "name": "Sở <b>Xây dựng</b> & Đô thị", "kind": "department"}]),))
        yield c


@pytest.fixture(scope="module")
def report(conn: psycopg.Connection) -> store.StoredReport:
    # SXD judged 3 dossiers in the week: ranked (and its name shown) from 3 dossiers up
    return store.generate(conn, W18, now=NOW, min_dossiers=3)


def test_week_boundaries_are_local_midnights() -> None:
    assert W18.start == datetime(2026, 4, 26, 17, tzinfo=UTC)   # Mon 27 Apr 00:00 +07
    assert W18.end == datetime(2026, 5, 3, 17, tzinfo=UTC)
    # Sunday 23:30 local is still week 18; Monday 00:30 local (Sunday UTC) is week 19
    assert str(Week.containing(datetime(2026, 5, 3, 16, 30, tzinfo=UTC))) == "2026-W18"
    assert str(Week.containing(datetime(2026, 5, 3, 17, 30, tzinfo=UTC))) == "2026-W19"
    assert str(Week.parse("2026-W01").previous()) == "2025-W52"
    with pytest.raises(ValueError, match=r"write e\.g\. 2026-W47"):
        Week.parse("2026-47")


def test_report_figures(report: store.StoredReport) -> None:
    d = report.data
    systems = {s["system"]: s for s in d["systems"]}
    assert systems["portal"]["availability"] == pytest.approx(1 - 30 / 10080)
    assert systems["portal"]["light_availability"] == "green"
    assert systems["payments"]["light_availability"] == "red"
    assert systems["documents"]["availability"] is None
    assert systems["documents"]["light_availability"] == "grey"
    assert d["light"] == "red"
    incidents = d["incidents"]
    assert [i["rule"] for i in incidents["items"]] == ["portal_down", "payments_slow"]
    assert incidents["mtta_s"] == 600 and incidents["mttr_s"] == 2400
    assert incidents["items"][1]["resolved_at"] is None
    assert incidents["items"][1]["duration_s"] == 3600
    on_time = {i["id"]: i for i in d["indicators"]}["2.1"]
    assert on_time["rate"] == pytest.approx(6 / 11)
    assert d["slowest"]["agencies"][0] == {"agency": "STP", "name": "Sở Tư pháp", "rate": 0.5,
                                           "late": 4, "total": 8,
                                           "rate_prev": pytest.approx(2 / 3)}
    # P1 is not in the catalogue: the code stands alone, with no allowed time to compare with
    [p1] = d["slowest"]["procedures"]
    assert (p1["procedure"], p1["name"], p1["allowed_days"], p1["ratio"]) == ("P1", None, None,
                                                                            None)
    assert (p1["days"], p1["count"]) == (pytest.approx(23.125 / 6), 6)
    processing = {i["id"]: i for i in d["indicators"]}["2.2"]
    assert processing["value"] == pytest.approx(23.125 / 6)


def test_catalogue_names_are_escaped_in_the_html(report: store.StoredReport) -> None:
    assert "Sở &lt;b&gt;Xây dựng&lt;/b&gt; &amp; Đô thị" in report.html
    assert "<b>Xây dựng</b>" not in report.html


def test_pdf_renders_with_vietnamese_text_and_figures(report: store.StoredReport,
                                                      tmp_path: Path) -> None:
    assert report.pdf is not None and report.pdf.startswith(b"%PDF")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(report.pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    for phrase in ("Báo cáo tuần: vận hành và chất lượng dịch vụ", "Độ sẵn sàng",
                   "Cổng dịch vụ công", "99,702%", "98,810%", "Giải quyết trước hạn, đúng hạn",
                   "54,55%", "40 phút", "10 phút", "Không đạt", "Thủ tục và cơ quan chậm nhất",
                   "Sở Tư pháp", "▲ tăng, ▼ giảm so với tuần trước",
                   "có từ 3 hồ sơ trở lên"):
        assert phrase in text, phrase
    # 766.2.2 as a leader reads it: 23.125 working days over 6 dossiers, and its share of the
    # allowed time (the indicator's scored rate), instead of "3,85 / 88%"
    rate = {i["id"]: i for i in report.data["indicators"]}["2.2"]["rate"]
    assert 0 < rate < 1
    wording = f"3,9 ngày làm việc ({round(rate * 100)} % thời hạn)"
    assert wording in text, wording
    assert "3,85 /" not in text
    # the score chart's labels (score / maximum) have decimal commas like the tables
    scores = {i["id"]: i["score"] for i in report.data["indicators"]}
    chart = [f"{s:.2f}".replace(".", ",") + f" / {m}"
             for s, m in ((scores["2.1"], 10), (scores["4.2"], 6), (scores["1.4"], 2))]
    for label in chart:
        assert label in text, label
    assert re.search(r"\b\d+\.\d\d / \d", text) is None
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True)
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_slowest_procedures_rank_by_time_against_allowed_time_with_enough_dossiers(
        make_db: Callable[[], str]) -> None:
    # Same processing time everywhere; the catalogue allows PB 3 working days, PA 10 and PC 1;
    # PD is not in the catalogue; PC has only 2 dossiers.
    counts = {"PA": 5, "PB": 5, "PC": 2, "PD": 5}
    with db.connect(make_db()) as c:
        sync_calendar(c)
        load(c, "dossiers", [dossier(f"{code}{n}", local(4, 20, 8), local(4, 28, 17), status=9,
                                     finished=local(4, 28, 16), procedure=code, agency="SA")
                             for code, k in counts.items() for n in range(k)])
        load(c, "procedures", [{"code": code, "name": f"Thủ tục {code}", "deadline_days": days}
                               for code, days in (("PA", 10), ("PB", 3), ("PC", 1))])
        ranked = build_report(c, W18, now=NOW)["slowest"]
        loose = build_report(c, W18, now=NOW, min_dossiers=2)["slowest"]
        en = render_html(build_report(c, W18, now=NOW, language="en"))
        with pytest.raises(ValueError, match="at least 1"):
            build_report(c, W18, now=NOW, min_dossiers=0)
    days = ranked["procedures"][0]["days"]
    assert days > 0
    assert [(p["procedure"], p["name"], p["count"]) for p in ranked["procedures"]] == [
        ("PB", "Thủ tục PB", 5), ("PA", "Thủ tục PA", 5), ("PD", None, 5)]
    assert [p["ratio"] for p in ranked["procedures"]] == [pytest.approx(days / 3),
                                                          pytest.approx(days / 10), None]
    assert [p["procedure"] for p in loose["procedures"]] == ["PC", "PB", "PA", "PD"]
    assert (ranked["min_dossiers"], loose["min_dossiers"]) == (5, 2)
    assert f"{round(days / 3 * 100)}%" in en and "at least 5 dossiers" in en


def test_english_on_request(conn: psycopg.Connection) -> None:
    en = store.generate(conn, W18, now=NOW, language="en", pdf=False)
    assert "Availability" in en.html and "99.702%" in en.html and "<script" not in en.html
    assert en.version == 1


def test_unchanged_figures_keep_the_version_and_changes_make_a_new_one(
        make_db: Callable[[], str]) -> None:
    with db.connect(make_db()) as c:
        sync_calendar(c)
        seed_week(c)
        v1 = store.generate(c, W18, now=NOW, pdf=False)
        store.publish(c, v1.id, NOW)
        assert store.generate(c, W18, now=NOW, pdf=False).version == 1
        load(c, "dossiers", [dossier("Z", local(4, 20, 8), local(4, 24, 17))])  # open, overdue
        v2 = store.generate(c, W18, now=NOW, pdf=False)
        assert v2.version == 2
        changed = {ch["key"]: ch for ch in v2.changes}
        assert changed["indicators.2.1.rate"]["before"] == pytest.approx(6 / 11, abs=1e-6)
        assert changed["indicators.2.1.rate"]["after"] == pytest.approx(6 / 12, abs=1e-6)
        assert "indicators.2.1.rate" in v2.html
        with pytest.raises(psycopg.errors.RaiseException, match="published and frozen"):
            c.execute("UPDATE reports SET html = 'x' WHERE id = %s", (v1.id,))


def test_cli_writes_the_report_file(conn: psycopg.Connection, tmp_path: Path) -> None:
    url = conn.info.dsn
    password = conn.info.password
    env = dict(os.environ, IOC_DATABASE_URL=url + (f" password={password}" if password else ""),
               IOC_STATE_DIR=str(tmp_path))
    out = tmp_path / "w18.html"
    done = subprocess.run([sys.executable, "-m", "ioc.cli", "report", "weekly", "--week",
                           "2026-W18", "--format", "html", "--lang", "en", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "2026-W18" in done.stdout and "Decision 766 indicators" in out.read_text()
    xlsx = tmp_path / "w18.xlsx"
    done = subprocess.run([sys.executable, "-m", "ioc.cli", "report", "weekly", "--week",
                           "2026-W18", "--format", "xlsx", "--lang", "en", "--out", str(xlsx)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    wb = load_workbook(xlsx)
    assert wb.sheetnames[:2] == ["Systems", "Decision 766"] and wb.sheetnames[-1] == "Notes"
    assert wb["Systems"]["A1"].value == "System" and wb["Systems"].freeze_panes == "A2"
    bad = subprocess.run([sys.executable, "-m", "ioc.cli", "report", "weekly", "--week",
                          "2026-47", "--out", str(out)], env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "write e.g. 2026-W47" in bad.stderr
