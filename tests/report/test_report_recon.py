"""The report's reconciliation: only transactions whose files are in are judged; the others are
said to be awaiting their files."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from kpi.records import dossier, load, local
from kpi.test_payment_document_kpis import row, tx

from ioc import db
from ioc.report.build import build_report
from ioc.report.render import render_html
from ioc.report.week import Week

W19 = Week.parse("2026-W19")                        # Mon 4 May to Mon 11 May, local
NOW = datetime(2026, 5, 11, 1, tzinfo=UTC)          # Monday 08:00 local
TUE = tx("P1", "vnpay", 50000, "success", local(5, 5, 9), local(5, 6, 3))
SUN = tx("P2", "vnpay", 70000, "success", local(5, 10, 9))   # Sunday's files not in yet


def test_report_judges_what_it_can_and_counts_the_rest_as_awaiting_files(
        make_db: Callable[[], str]) -> None:
    with db.connect(make_db()) as conn:
        load(conn, "dossiers", [dossier("F", local(5, 4, 8), local(5, 20, 17), paid_online=True)])
        load(conn, "transactions", [TUE, SUN])
        for side in ("intermediary", "treasury"):
            conn.execute("SELECT ioc_store_recon_file(%s, '2026-05-05', %s::jsonb)",
                         (side, json.dumps([row(TUE, "2026-05-05")])))
        vi = build_report(conn, W19, now=NOW)
        en = build_report(conn, W19, now=NOW, language="en")
    payments = vi["payments"]
    assert (payments["match_rate"], payments["pending"]) == (1.0, 1.0)
    assert payments["breaks"] == {}                    # P2 is no break: its files are not due
    assert payments["light"] == "green"
    assert "Giao dịch đang chờ tệp đối soát (chưa tính vào tỷ lệ khớp): 1<" in render_html(vi)
    assert "awaiting reconciliation files (not in the match rate yet): 1<" in render_html(en)
    # the intermediary by its written name, not its code
    assert [(p["intermediary"], p["name"]) for p in payments["intermediaries"]] == [
        ("vnpay", "VNPAY")]
    assert "<td>VNPAY</td>" in render_html(vi) and "<td>vnpay</td>" not in render_html(vi)


def test_report_names_the_kind_of_each_break(make_db: Callable[[], str]) -> None:
    mon = tx("P3", "momo", 20000, "success", local(5, 4, 10), local(5, 5, 3))
    with db.connect(make_db()) as conn:
        load(conn, "dossiers", [dossier("F", local(5, 4, 8), local(5, 20, 17), paid_online=True)])
        load(conn, "transactions", [mon])
        # Monday's intermediary file came; the Treasury's, due Tuesday 07:00, never did
        conn.execute("SELECT ioc_store_recon_file('intermediary', '2026-05-04', %s::jsonb)",
                     (json.dumps([row(mon, "2026-05-04")]),))
        vi = build_report(conn, W19, now=NOW)
        en = build_report(conn, W19, now=NOW, language="en")
    assert vi["payments"]["breaks"] == {"missing_treasury": 1.0}
    assert "Chênh lệch chưa xử lý: thiếu trong sao kê Kho bạc: 1<" in render_html(vi)
    assert "Open breaks: missing from the Treasury statement: 1<" in render_html(en)
