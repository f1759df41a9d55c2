"""A records feed heals: the document system restarts with a new state and refuses the cursor
the collector stored (400, as the simulator did before it learnt to restart its log); the
collector says so once, resumes from its latest stored record's time less an overlap, and goes
on with the new system's cursors. Nothing is stored twice, nothing is lost."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from collectors.fetch import HttpClient
from collectors.records import OVERLAP, RecordsSync
from ioc import db
from ioc.config.targets import RecordsTarget


class Documents:
    """A document system's /api/documents: a change log paged by its own cursors
    (`<world>:<position>`) or by time; `restart()` starts a new world (new cursors, new
    records) that refuses the old world's cursors with 400."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.world = "a"
        self.log: list[dict[str, Any]] = []
        self.asked: list[str] = []

    def add(self, count: int) -> None:
        for _ in range(count):
            n = len(self.log)
            self.log.append({
                "id": f"VB.{self.world}.{n}", "direction": "in", "agency_code": "STP",
                "kind": "cv", "summary": "x", "signed": True, "electronic": True,
                "via_national_axis": False, "work_file_online": True,
                "received_at": (self.now - timedelta(hours=1)).isoformat(), "due_at": None,
                "handled_at": None, "synthetic": False,
                "updated_at": (self.now - timedelta(minutes=30) + n * timedelta(seconds=1)
                               ).isoformat()})

    def restart(self, keep: int) -> None:
        """A new state: the first `keep` records survive (same ids), the rest is new."""
        self.world, self.log = "b", self.log[:keep]

    async def answer(self, request: web.Request) -> web.Response:
        since = request.query.get("updated_since")
        limit = int(request.query.get("limit", "500"))
        self.asked.append(since or "")
        start = 0
        if since and ":" in since and not since[:1].isdigit():
            world, _, pos = since.partition(":")
            if world != self.world:
                return web.json_response({"error": f"unknown cursor {since}"}, status=400)
            start = int(pos)
        elif since:
            start = next((i for i, r in enumerate(self.log)
                          if datetime.fromisoformat(r["updated_at"])
                          > datetime.fromisoformat(since)), len(self.log))
        items = self.log[start:start + limit]
        end = start + len(items)
        more = end < len(self.log)
        cursor = f"{self.world}:{end}"
        return web.json_response({"items": items, "next": cursor if more else None,
                                  "cursor": cursor})


@pytest.fixture
async def source() -> AsyncIterator[tuple[Documents, str]]:
    docs = Documents(datetime.now(UTC).replace(microsecond=0))
    app = web.Application()
    app.router.add_get("/api/documents", docs.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield docs, f"http://127.0.0.1:{runner.addresses[0][1]}/api/documents"
    await runner.cleanup()


async def test_a_restarted_source_that_refuses_the_cursor_is_resumed_by_time(
        source: tuple[Documents, str], fresh_db_url: str, client: HttpClient,
        caplog: pytest.LogCaptureFixture) -> None:
    docs, url = source
    target = RecordsTarget.model_validate({
        "kind": "records", "id": "documents-records", "system": "documents", "name": "x",
        "url": url, "record_type": "documents", "page_size": 50, "interval": "30s"})
    sync = RecordsSync(target, client, fresh_db_url)
    now = docs.now
    docs.add(120)
    first = await sync.collect(now)
    docs.restart(keep=100)      # the new state knows 100 of the records, then new ones
    docs.add(30)
    caplog.set_level(logging.WARNING, logger="collectors.records")
    outcomes = [await sync.collect(now + i * timedelta(seconds=30)) for i in (1, 2)]
    docs.add(5)
    outcomes.append(await sync.collect(now + timedelta(seconds=90)))
    await sync.close()

    assert first.result is not None and first.result.ok
    # the first poll after the restart already succeeds (within two intervals), then the next
    assert [o.result.ok for o in outcomes if o.result is not None] == [True, True, True]
    refused = [r for r in caplog.records if "refused the stored cursor" in r.getMessage()]
    assert len(refused) == 1 and "a:120" in refused[0].getMessage()
    # the refused cursor was sent once; then a time (the latest stored record, less the
    # overlap), then the new world's cursors
    assert docs.asked.count("a:120") == 1
    latest = max(datetime.fromisoformat(r["updated_at"]) for r in docs.log[:120])
    resumed = docs.asked[docs.asked.index("a:120") + 1]
    assert datetime.fromisoformat(resumed) == latest - OVERLAP
    assert docs.asked[-1].startswith("b:")
    with db.connect(fresh_db_url) as conn:
        rows = conn.execute("SELECT id FROM documents").fetchall()
        cursor = conn.execute("SELECT cursor FROM collector_cursors WHERE target_id ="
                              " 'documents-records'").fetchone()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r["id"] for r in docs.log} | {f"VB.a.{n}" for n in range(100, 120)}
    assert cursor == (f"b:{len(docs.log)}",)
