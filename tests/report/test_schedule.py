"""The report goes out on Monday 07:00 local, once, to a real SMTP server, with the PDF."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, time

import pytest
from openpyxl import load_workbook

from ioc import db
from ioc.config.model import ProvinceConfig
from ioc.kpi.calendar import sync_calendar
from ioc.report.mail import ReportMailError
from ioc.report.schedule import due_week, send_due_reports

from .seed import seed_week
from .smtp import smtp_server


def _config(port: int) -> ProvinceConfig:
    return ProvinceConfig.model_validate({
        "province": {"name": "Tỉnh Sông Lam", "code": "SL"},
        "channels": [{"kind": "email", "name": "lanh-dao", "host": "127.0.0.1", "port": port,
                      "security": "none", "from": "ioc@songlam.gov.vn"}],
        "report": {"channel": "lanh-dao", "slowest_min_dossiers": 3, "recipients": [
            {"name": "Chủ tịch UBND tỉnh", "email": "chutich@songlam.gov.vn"},
            {"name": "Giám đốc Sở TT&TT", "email": "giamdoc@songlam.gov.vn"}]},
    })


@pytest.mark.parametrize(("now", "week"), [
    (datetime(2026, 5, 4, 0, 0, tzinfo=UTC), "2026-W18"),    # Mon 07:00 local: W18 due
    (datetime(2026, 5, 3, 23, 59, tzinfo=UTC), "2026-W17"),  # Mon 06:59 local: still W17
    (datetime(2026, 5, 10, 16, 0, tzinfo=UTC), "2026-W18"),  # Sun 23:00 local
])
def test_due_week_in_local_time(now: datetime, week: str) -> None:
    assert str(due_week(now, "monday", time(7, 0))[0]) == week


def test_report_is_sent_once_on_schedule_with_the_pdf(make_db: Callable[[], str]) -> None:
    with db.connect(make_db()) as conn:
        sync_calendar(conn)
        seed_week(conn)
        with smtp_server() as (_, closed):
            pass                                                   # nobody listens there now
        before = datetime(2026, 5, 3, 23, 59, tzinfo=UTC)          # Mon 06:59 local
        at = datetime(2026, 5, 4, 0, 0, 30, tzinfo=UTC)           # Mon 07:00:30 local
        # W17 has no data but is due before 07:00: the failed send is released for a retry
        with pytest.raises(ReportMailError, match=f"127.0.0.1:{closed} failed"):
            send_due_reports(conn, before, _config(closed))
        assert conn.execute("SELECT period, sent_at FROM reports").fetchall() == [
            ("2026-W17", None)]
        with smtp_server() as (inbox, port):
            config = _config(port)
            conn.execute("UPDATE reports SET sent_at = now()")       # W17 handled elsewhere
            sent = send_due_reports(conn, at, config)
            assert [(s.period, s.version) for s in sent] == [("2026-W18", 1)]
            assert send_due_reports(conn, at, config) == []         # once only
        assert sorted(r[0][0] for r in inbox.received) == ["chutich@songlam.gov.vn",
                                                            "giamdoc@songlam.gov.vn"]
        msg = inbox.received[0][1]
        assert str(msg["Subject"]) == ("Báo cáo tuần: vận hành và chất lượng dịch vụ"
                                       " — 2026-W18 (v1)")
        [pdf] = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert pdf.get_content().startswith(b"%PDF")
        # the report's tables come along as a workbook with the same figures
        [xlsx] = [p for p in msg.iter_attachments()
                  if p.get_filename() == "bao-cao-tuan-2026-W18.xlsx"]
        wb = load_workbook(io.BytesIO(xlsx.get_content()))
        assert wb.sheetnames[0] == "Hệ thống" and wb.sheetnames[-1] == "Ghi chú"
        portal = next(r for r in wb["Hệ thống"].iter_rows(values_only=True)
                      if r[0] == "Cổng dịch vụ công")
        assert portal[1] == pytest.approx(1 - 30 / 10080, rel=1e-15)
        # the config's minimum of dossiers: SXD (3 judged dossiers) is ranked
        agencies = [r[2] for r in wb["Cơ quan chậm nhất"].iter_rows(min_row=2, values_only=True)]
        assert agencies == ["STP", "SXD"]
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None and "Kính gửi" in body.get_content()
        row = conn.execute("SELECT published_at IS NOT NULL, sent_to FROM reports "
                           "WHERE period = '2026-W18'").fetchone()
        assert row == (True, ["chutich@songlam.gov.vn", "giamdoc@songlam.gov.vn"])
