"""The records kind fetches the daily reconciliation files: every file received is recorded (an
empty one too, so its day can be judged); a file not yet available (404) is not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from aiohttp import web

from collectors.fetch import HttpClient
from collectors.records import RecordsSync
from ioc import db
from ioc.config.targets import RecordsTarget

NOW = datetime(2026, 5, 8, 3, 0, tzinfo=UTC)          # Fri 8 May 10:00 in Hà Nội
ROW = {"file_date": "2026-05-05", "ref": "GD.1", "dossier_code": "HS.1",
       "payment_request_code": "YC.1", "intermediary": "vnpay", "amount": 50000,
       "settled_at": "2026-05-05T20:00:00Z"}


class Files:
    """A payment gateway's /api/reconciliation/{day}: some days listed, others not yet ready."""

    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, object]]] = {
            "2026-05-05": [ROW], "2026-05-06": []}
        self.asked: list[tuple[str, str]] = []

    async def answer(self, request: web.Request) -> web.Response:
        day, side = request.match_info["day"], request.query["side"]
        self.asked.append((day, side))
        if day not in self.items:
            return web.json_response({"error": "not yet available",
                                      "available_at": f"{day}T00:00:00Z"}, status=404)
        return web.json_response({"date": day, "side": side, "intermediary": None,
                                  "items": self.items[day]})


@pytest.fixture
async def files() -> AsyncIterator[tuple[Files, str]]:
    source = Files()
    app = web.Application()
    app.router.add_get("/api/reconciliation/{day}", source.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield source, f"http://127.0.0.1:{runner.addresses[0][1]}/api/reconciliation"
    await runner.cleanup()


async def test_empty_files_are_recorded_and_missing_ones_skipped(
        files: tuple[Files, str], fresh_db_url: str, client: HttpClient) -> None:
    source, url = files
    target = RecordsTarget.model_validate({
        "kind": "records", "id": "payments-reconciliation", "system": "payments", "name": "x",
        "url": url, "record_type": "reconciliation", "lookback": "3d"})
    sync = RecordsSync(target, client, fresh_db_url)
    first = await sync.collect(NOW)
    source.items["2026-05-07"] = []                      # Thursday's file comes out, empty
    later = NOW.replace(hour=4)
    second = await sync.collect(later)
    await sync.close()
    assert first.result is not None and first.result.ok and first.result.detail == "2 records"
    assert second.result is not None and second.result.ok
    assert [a for a in source.asked if a[0] >= "2026-05-05"][:6] == [
        (d, s) for d in ("2026-05-05", "2026-05-06", "2026-05-07")
        for s in ("intermediary", "treasury")]
    with db.connect(fresh_db_url) as conn:
        stored = conn.execute("SELECT side, file_date, rows, first_received_at, received_at "
                              "FROM recon_files ORDER BY file_date, side").fetchall()
        rows = conn.execute("SELECT side, file_date, ref, amount FROM recon_rows "
                            "ORDER BY side").fetchall()
    may = [date(2026, 5, d) for d in (5, 6, 7)]
    assert stored == [("intermediary", may[0], 1, NOW, later), ("treasury", may[0], 1, NOW, later),
                      ("intermediary", may[1], 0, NOW, later), ("treasury", may[1], 0, NOW, later),
                      ("intermediary", may[2], 0, later, later),
                      ("treasury", may[2], 0, later, later)]
    assert rows == [("intermediary", may[0], "GD.1", 50000), ("treasury", may[0], "GD.1", 50000)]


async def test_a_refused_file_is_a_garbage_failure_and_stores_nothing(
        files: tuple[Files, str], fresh_db_url: str, client: HttpClient) -> None:
    source, url = files
    source.items["2026-05-05"] = [{"ref": "GD.2"}]        # no amount
    target = RecordsTarget.model_validate({
        "kind": "records", "id": "payments-reconciliation", "system": "payments", "name": "x",
        "url": url, "record_type": "reconciliation", "lookback": "3d"})
    sync = RecordsSync(target, client, fresh_db_url)
    got = await sync.collect(NOW)
    await sync.close()
    assert got.result is not None and (got.result.ok, got.result.reason) == (False, "garbage")
    assert "has no amount" in (got.result.detail or "")
    with db.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM recon_files").fetchone() == (0,)


async def test_a_file_never_received_is_looked_for_beyond_the_look_back(
        files: tuple[Files, str], fresh_db_url: str, client: HttpClient) -> None:
    # before Tết-like holidays a file can come out a week late: 28 April's treasury statement
    # is published only now, 10 days on, long after a 3-day look-back has passed it by
    source, url = files
    source.items = {"2026-04-28": [], "2026-04-27": []}
    with db.connect(fresh_db_url) as conn:  # 27 April's files came in on time, long ago
        for side in ("intermediary", "treasury"):
            conn.execute("SELECT ioc_store_recon_file(%s, '2026-04-27', '[]'::jsonb, %s)",
                         (side, datetime(2026, 4, 28, 1, tzinfo=UTC)))
    target = RecordsTarget.model_validate({
        "kind": "records", "id": "payments-reconciliation", "system": "payments", "name": "x",
        "url": url, "record_type": "reconciliation", "lookback": "3d"})
    sync = RecordsSync(target, client, fresh_db_url)
    await sync.collect(NOW)
    first = list(source.asked)
    source.asked.clear()
    await sync.collect(NOW.replace(hour=4))
    await sync.close()
    assert ("2026-04-28", "treasury") in first and ("2026-04-07", "intermediary") in first
    assert not any(day == "2026-04-27" for day, _ in first)   # received: not fetched again
    assert ("2026-04-06", "treasury") not in first            # beyond the 31 days
    # once received, 28 April is no longer asked for; the look-back days still are
    assert not any(day == "2026-04-28" for day, _ in source.asked)
    assert ("2026-05-07", "treasury") in source.asked
    with db.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM recon_files WHERE file_date = '2026-04-28'"
                            ).fetchone() == (2,)
