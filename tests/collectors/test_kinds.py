"""The json, prometheus, sql, records and push kinds map what they read into rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from collectors.fetch import HttpClient
from collectors.jsonpoll import JsonPoll
from collectors.model import Sample
from collectors.promscrape import PrometheusScrape
from collectors.push import PushError, ingest, parse_push
from collectors.records import RecordsSync
from collectors.sqlquery import SqlQuery
from ioc import db
from ioc.config.targets import JsonTarget, PrometheusTarget, PushTarget, RecordsTarget, SqlTarget
from tests.collectors.loopback import Loopback

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def by_key(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}


async def test_json_poll_maps_nested_fields_and_rows_with_labels(loopback: Loopback,
                                                                 client: HttpClient) -> None:
    target = JsonTarget.model_validate({
        "kind": "json", "id": "stats", "system": "portal", "name": "Thống kê",
        "url": f"{loopback.url}/stats", "labels": {"env": "sim"}, "window": "1h",
        "params": {"from": "{from}", "to": "{to}"},
        "mappings": [
            {"path": "received", "metric": "portal_received"},
            {"path": "timeliness.late", "metric": "portal_late_total"},
            {"path": "by_channel.2", "metric": "portal_by_channel",
             "static_labels": {"channel": "2"}},
            {"path": "by_agency[*].late", "metric": "portal_late",
             "labels": {"agency": "agency_code"}},
            {"path": "missing.field", "metric": "portal_nothing"}]})
    outcome = await JsonPoll(target, client).collect(NOW)
    assert outcome.result is not None and outcome.result.ok
    assert outcome.result.detail == "no number at: missing.field"
    env = ("env", "sim")
    assert by_key(outcome.samples) == {
        ("portal_received", (env,)): 120, ("portal_late_total", (env,)): 5,
        ("portal_by_channel", (("channel", "2"), env)): 70,
        ("portal_late", (("agency", "STP"), env)): 2,
        ("portal_late", (("agency", "SYT"), env)): 3}
    assert loopback.queries == [{"from": "2026-11-23T02:00:00.000Z",
                                 "to": "2026-11-23T03:00:00.000Z"}]


async def test_json_poll_of_html_is_garbage(loopback: Loopback, client: HttpClient) -> None:
    target = JsonTarget.model_validate({
        "kind": "json", "id": "stats", "system": "portal", "name": "x",
        "url": f"{loopback.url}/text", "mappings": [{"path": "a", "metric": "m"}]})
    outcome = await JsonPoll(target, client).collect(NOW)
    assert outcome.result is not None and outcome.result.reason == "garbage"


async def test_prometheus_scrape_keeps_allowed_metrics(loopback: Loopback,
                                                       client: HttpClient) -> None:
    target = PrometheusTarget.model_validate({
        "kind": "prometheus", "id": "scrape", "system": "portal", "name": "x",
        "url": f"{loopback.url}/metrics", "metrics": ["portal_requests_*", "portal_latency_*"]})
    outcome = await PrometheusScrape(target, client).collect(NOW)
    got = by_key(outcome.samples)
    assert got[("portal_requests_total", (("code", "500"), ("route", "/api/search")))] == 3
    assert got[("portal_latency_seconds_bucket", (("le", "+Inf"),))] == 7
    assert ("portal_queue_depth", ()) not in got
    bad = PrometheusTarget.model_validate({**target.model_dump(mode="json"),
                                           "url": f"{loopback.url}/text"})
    outcome = await PrometheusScrape(bad, client).collect(NOW)
    assert outcome.result is not None and outcome.result.reason == "garbage"


def sql_target(dsn: str, query: str, **fields: Any) -> SqlTarget:
    return SqlTarget.model_validate({"kind": "sql", "id": "src", "system": "payments",
                                     "name": "x", "dsn": dsn, "query": query,
                                     "metric": "payments_pending", **fields})


async def test_sql_query_reads_rows_and_reports_timeout_and_writes(fresh_db_url: str) -> None:
    with db.connect(fresh_db_url) as conn:
        conn.execute("CREATE TABLE src_pending (bank text, n numeric)")
        conn.execute("INSERT INTO src_pending VALUES ('VCB', 4), ('BIDV', 2.5)")
    q = SqlQuery(sql_target(fresh_db_url, "SELECT bank, n AS value FROM src_pending",
                            label_columns=["bank"]))
    ok = await q.collect(NOW)
    slow = SqlQuery(sql_target(fresh_db_url, "SELECT pg_sleep(5), 1 AS value",
                               statement_timeout="200ms"))
    timed_out = await slow.collect(NOW)
    writer = SqlQuery(sql_target(fresh_db_url, "WITH d AS (DELETE FROM src_pending RETURNING 1)"
                                 " SELECT count(*) AS value FROM d"))
    refused = await writer.collect(NOW)
    for c in (q, slow, writer):
        await c.close()
    assert by_key(ok.samples) == {("payments_pending", (("bank", "VCB"),)): 4,
                                  ("payments_pending", (("bank", "BIDV"),)): 2.5}
    assert timed_out.result is not None and timed_out.result.reason == "timeout"
    assert refused.result is not None and refused.result.reason == "error"
    assert "read-only" in (refused.result.detail or "")
    with db.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM src_pending").fetchone() == (2,)


async def test_sql_error_never_shows_the_password(fresh_db_url: str) -> None:
    dsn = "postgresql://ioc:hunter2-secret@127.0.0.1:1/nothing"
    outcome = await SqlQuery(sql_target(dsn, "SELECT 1 AS value")).collect(NOW)
    assert outcome.result is not None and outcome.result.reason == "refused"
    assert "hunter2" not in (outcome.result.detail or "")


PUSH = PushTarget.model_validate({"kind": "push", "id": "payments-push", "system": "payments",
                                  "name": "x", "metrics": ["payments_*"], "token_name": "pay"})


@pytest.mark.parametrize(("payload", "problem"), [
    ([], "JSON object"),
    ({"samples": []}, "empty"),
    ({"samples": [{"metric": "portal_x", "value": 1}]}, "not allowed"),
    ({"samples": [{"metric": "payments_x", "value": "NaN"}]}, "finite number"),
    ({"samples": [{"metric": "payments_x", "value": 1, "labels": {"1a": "x"}}]}, "label name"),
    ({"samples": [{"metric": "payments_x", "value": 1, "time": "yesterday"}]}, "RFC 3339"),
    ({"samples": [{"metric": "payments_x", "value": 1, "time": "2020-01-01T00:00:00Z"}]},
     "7 days old"),
    ({"samples": [{"metric": "payments_x", "value": 1, "extra": 2}]}, "unknown key"),
], ids=["not-object", "empty", "metric-not-allowed", "nan", "bad-label", "bad-time", "old",
        "unknown-key"])
def test_push_refuses_bad_payload_with_reason(payload: Any, problem: str) -> None:
    with pytest.raises(PushError, match=problem):
        parse_push(PUSH, payload, NOW)


async def test_push_ingest_stores_once(fresh_db_url: str) -> None:
    now = datetime.now(UTC)
    payload = {"samples": [
        {"metric": "payments_queue", "labels": {"bank": "VCB"}, "value": 3,
         "time": (now - timedelta(seconds=5)).isoformat()},
        {"metric": "payments_queue", "labels": {"bank": "BIDV"}, "value": 1}]}
    async with await db.connect_async(fresh_db_url) as conn:
        assert await ingest(conn, PUSH, payload, now=now) == 2
        assert await ingest(conn, PUSH, payload, now=now) == 2  # a resend
    with db.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM samples").fetchone() == (2,)
        assert conn.execute("SELECT ok, detail FROM probe_results").fetchall() == [
            (True, "push: 2 samples")]


DOCS = [{"id": f"VB-{i}", "direction": "in", "agency_code": "STP", "signed": False,
         "electronic": True, "via_national_axis": False,
         "received_at": f"2026-11-20T0{i}:00:00Z", "due_at": None, "handled_at": None,
         "synthetic": False, "updated_at": f"2026-11-20T0{i}:00:00Z"} for i in range(5)]


async def test_records_sync_pages_with_cursor_and_resumes(fresh_db_url: str,
                                                          client: HttpClient) -> None:
    seen: list[dict[str, str]] = []
    docs = list(DOCS)

    async def documents(request: web.Request) -> web.Response:
        """Positions as cursors while paging; `null` at the end (then a time cursor works)."""
        seen.append(dict(request.query))
        since = request.query.get("updated_since", "0")
        start = int(since) if since.isdigit() else sum(d["updated_at"] <= since for d in docs)
        limit = int(request.query["limit"])
        items = docs[start:start + limit]
        nxt = str(start + len(items)) if start + len(items) < len(docs) else None
        return web.json_response({"items": items, "next": nxt})

    app = web.Application()
    app.router.add_get("/api/documents", documents)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/documents"
    target = RecordsTarget.model_validate({"kind": "records", "id": "docs",
                                           "system": "documents", "name": "x", "url": url,
                                           "record_type": "documents", "page_size": 2})
    sync = RecordsSync(target, client, fresh_db_url)
    first = await sync.collect(NOW)
    docs.append({**DOCS[0], "id": "VB-5", "updated_at": "2026-11-21T00:00:00Z"})
    second = await sync.collect(NOW)
    await sync.close()
    await runner.cleanup()
    assert first.result is not None and first.result.detail == "5 records"
    assert second.result is not None and second.result.detail == "1 records"
    assert [q.get("updated_since") for q in seen] == [None, "2", "4", "2026-11-20T04:00:00Z"]
    with db.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (6,)
        assert json.loads(json.dumps(conn.execute(
            "SELECT cursor FROM collector_cursors").fetchone()[0])) == "2026-11-21T00:00:00Z"
