"""Statistics agree with the records they summarise; record paging sees every change once."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from sim import Volumes, add_working_days, run_province, vietnam_holidays, working_days_between
from sim.calendar import VN_TZ
from tests.sim.helpers import START, all_records, get_json, options, z

VN = vietnam_holidays(range(2024, 2027))
CLASSES = ("early", "on_time", "late", "open_within", "open_overdue", "withdrawn")


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _local(text: str) -> Any:
    return datetime.fromisoformat(text).astimezone(VN_TZ).date()


def _timeliness(rec: dict[str, Any], now: datetime) -> str:
    """The documented rule (SIM_API.md), recomputed from a dossier record."""
    if rec["status"] == 7:
        return "withdrawn"
    due_day = _local(rec["due_at"])
    for s in rec["supplements"]:
        if s["resumed_at"] is not None:
            pause = working_days_between(_local(s["requested_at"]), _local(s["resumed_at"]), VN)
            due_day = add_working_days(due_day, pause, VN)
    due = datetime(due_day.year, due_day.month, due_day.day, 17, tzinfo=VN_TZ)
    repeated = len(rec["supplements"]) > 1
    finished = _at(rec["finished_at"])
    if finished is not None:
        if repeated or finished > due:
            return "late"
        return "early" if finished.astimezone(VN_TZ).date() < due_day else "on_time"
    if repeated:
        return "open_overdue"
    return "open_within" if rec["status"] == 5 or now <= due else "open_overdue"


def _portal_expected(records: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    rows: dict[str, Counter[str]] = {}
    total: Counter[str] = Counter()
    for rec in records:
        kind = _timeliness(rec, now)
        for row in (total, rows.setdefault(rec["agency_code"], Counter())):
            row["received"] += 1
            row["finished"] += rec["finished_at"] is not None
            row[kind] += 1
    return {"total": total, "rows": rows}


def _in(rec: dict[str, Any], key: str, start: datetime, end: datetime) -> bool:
    at = datetime.fromisoformat(rec[key])
    return start <= at < end and not rec["synthetic"]


async def test_portal_statistics_agree_with_the_dossier_records() -> None:
    async with run_province(options(backfill_days=4)) as province, aiohttp.ClientSession() as http:
        portal = province.urls["portal"]
        async with http.post(f"{portal}/api/dossiers",
                             json={"procedure_code": "1.001193", "channel": 2}) as resp:
            assert resp.status == 201
            assert (await resp.json())["synthetic"] is True
        records = await all_records(http, f"{portal}/api/dossiers")
        for start, end in ((START - timedelta(days=4), START),
                           (START - timedelta(days=2, hours=5), START - timedelta(days=1))):
            window = {"from": z(start), "to": z(end)}
            stats = await get_json(http, f"{portal}/api/stats", **window)
            national = await get_json(http, f"{portal}/api/national/count", **window)
            mine = [r for r in records if _in(r, "received_at", start, end)]
            expected = _portal_expected(mine, datetime.fromisoformat(stats["as_of"]))
            total = expected["total"]
            assert stats["received"] == len(mine) == sum(stats["by_status"].values())
            assert stats["by_status"] == {str(s): sum(r["status"] == s for r in mine)
                                          for s in range(1, 11)}
            assert stats["by_channel"] == {str(c): sum(r["channel"] == c for r in mine)
                                           for c in (1, 2, 3)}
            assert stats["timeliness"] == {k: total[k] for k in CLASSES}
            assert stats["finished"] == total["finished"]
            assert {row["agency_code"]: {k: row[k] for k in ("received", "finished", *CLASSES)}
                    for row in stats["by_agency"]} == {
                code: {k: c[k] for k in ("received", "finished", *CLASSES)}
                for code, c in expected["rows"].items()}
            assert sum(row["received"] for row in stats["by_procedure"]) == len(mine)
            assert national["count"] == sum(r["synced_national"] for r in mine)
            assert stats["counts"]["paid_online"] == sum(r["paid_online"] for r in mine)
            assert stats["counts"]["online"] == stats["by_channel"]["2"]
        assert sum(total[k] for k in ("late", "open_overdue")) > 0
        assert all(total[k] > 0 for k in ("early", "on_time", "open_within"))


def _percentile(values: list[int], p: float) -> int | None:
    values = sorted(values)
    return values[max(0, math.ceil(p * len(values)) - 1)] if values else None


async def test_payment_statistics_and_reconciliation_files_agree_with_transactions() -> None:
    async with run_province(options(backfill_days=5)) as province, aiohttp.ClientSession() as http:
        payments = province.urls["payments"]
        async with http.post(f"{payments}/api/payments", json={"amount": 10_000}) as resp:
            assert resp.status in (201, 402)
        txs = await all_records(http, f"{payments}/api/transactions")
        start, end = START - timedelta(days=5), START
        stats = await get_json(http, f"{payments}/api/stats", **{"from": z(start), "to": z(end)})
        mine = [t for t in txs if _in(t, "created_at", start, end)]
        ok = [t for t in mine if t["status"] == "success"]
        assert stats["attempts"] == len(mine) == stats["succeeded"] + stats["failed"]
        assert stats["succeeded"] == len(ok)
        assert stats["amount_succeeded"] == sum(t["amount"] for t in ok)
        assert stats["by_error_code"] == dict(Counter(t["error_code"] for t in mine
                                                      if t["error_code"]))
        assert stats["latency_p95_ms"] == _percentile([t["latency_ms"] for t in mine], 0.95)
        for row in stats["by_intermediary"]:
            theirs = [t for t in mine if t["intermediary"] == row["intermediary"]]
            assert row["attempts"] == len(theirs)
            assert row["latency_p50_ms"] == _percentile([t["latency_ms"] for t in theirs], 0.5)
        assert stats["failed"] > 0
        # Business day 10 March (a Monday): its files are out from 07:00 on 11 March.
        day = datetime(2025, 3, 10, tzinfo=VN_TZ)
        files = {side: await get_json(http, f"{payments}/api/reconciliation/2025-03-10",
                                      side=side) for side in ("intermediary", "treasury")}
        expected = sorted(t["ref"] for t in ok
                          if day <= datetime.fromisoformat(t["created_at"]) <
                          day + timedelta(days=1))
        assert files["intermediary"]["items"] == files["treasury"]["items"]
        assert sorted(r["ref"] for r in files["treasury"]["items"]) == expected
        assert len(expected) > 10
        by_ref = {t["ref"]: t for t in ok}
        for row in files["treasury"]["items"]:
            assert row["file_date"] == "2025-03-10"
            assert row["amount"] == by_ref[row["ref"]]["amount"]
            assert row["settled_at"] == by_ref[row["ref"]]["settled_at"] is not None
        async with http.get(f"{payments}/api/reconciliation/2025-03-12") as resp:
            assert resp.status == 404
            assert (await resp.json())["available_at"] == "2025-03-13T00:00:00Z"


async def test_document_statistics_agree_with_the_document_records() -> None:
    # Three weeks of history, so that some documents were handled after their deadline.
    opts = options(backfill_days=21, volumes=Volumes(dossiers_per_day=20, documents_per_day=400))
    async with run_province(opts) as province, aiohttp.ClientSession() as http:
        docs_url = province.urls["documents"]
        docs = await all_records(http, f"{docs_url}/api/documents")
        start, end = START - timedelta(days=21), START - timedelta(hours=20)
        stats = await get_json(http, f"{docs_url}/api/stats", **{"from": z(start), "to": z(end)})
        now = datetime.fromisoformat(stats["as_of"])
        mine = [d for d in docs if _in(d, "received_at", start, end)]
        incoming = [d for d in mine if d["direction"] == "in"]
        outgoing = [d for d in mine if d["direction"] == "out"]
        with_due = [d for d in mine if d["due_at"]]
        assert stats["total"] == len(mine) == stats["incoming"] + stats["outgoing"]
        assert stats["incoming"] == len(incoming)
        assert stats["outgoing_signed"] == sum(d["signed"] for d in outgoing)
        assert stats["incoming_electronic"] == sum(d["electronic"] for d in incoming)
        assert stats["exchanged_national"] == sum(d["via_national_axis"] for d in mine)
        assert stats["work_files_online"] == sum(d["work_file_online"] for d in mine)
        assert stats["with_deadline"] == len(with_due)
        assert stats["overdue"] == sum(d["handled_at"] is None and now > _at(d["due_at"])
                                       for d in with_due)
        assert stats["handled_late"] == sum(d["handled_at"] is not None and _at(
            d["handled_at"]) > _at(d["due_at"]) for d in with_due)
        assert stats["overdue"] > 0 and stats["handled_late"] > 0


async def test_record_paging_returns_each_change_once_and_resumes_from_the_cursor() -> None:
    async with run_province(options(backfill_days=1)) as province, aiohttp.ClientSession() as http:
        url = province.urls["portal"] + "/api/dossiers"
        first = await get_json(http, url, limit="5000")
        assert first["next"] is None
        codes = [r["code"] for r in first["items"]]
        assert len(codes) == len(set(codes)) > 100
        updated = [r["updated_at"] for r in first["items"]]
        assert updated == sorted(updated)
        async with http.post(province.control_url + "/clock", json={"advance": "2h"}) as resp:
            assert resp.status == 200
        changed = await all_records(http, url, limit=50, since=first["cursor"])
        by_time = await all_records(http, url, since=first["items"][-1]["updated_at"])
        assert len(changed) > 50
        assert [r["code"] for r in changed] == [r["code"] for r in by_time]
        assert all(r["updated_at"] > first["items"][-1]["updated_at"] for r in changed)
        province.sync()
        assert len(province.model.dossiers) == len({*codes, *(r["code"] for r in changed)})
        # a cursor kept from before a restart of the simulator: from the beginning again
        restarted = await get_json(http, url, limit="5000", updated_since="p99999999")
        assert restarted == await get_json(http, url, limit="5000")
        assert len(restarted["items"]) >= len(codes)
        async with http.get(url, params={"updated_since": "yesterday"}) as resp:
            assert resp.status == 400
            assert "RFC 3339" in (await resp.json())["error"]
