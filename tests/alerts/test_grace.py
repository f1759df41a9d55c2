"""Start-up grace and the `down` rule, with the shipped rules (config/rules.yaml), on a real
database, the engine stepped at explicit times taken from the real clock.

A start (of the demo, of a collector, of the engine) never pages for the gap it left; an absence
that outlasts the grace still pages; an engine restart neither resolves nor re-sends what is
firing; one failed probe never pages and two in a row do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from pydantic import TypeAdapter

from alerts.engine import Engine
from alerts.rules import KINDS, Context, Sample
from alerts.rules.absence import shard_of
from collectors.scheduler import in_shard
from ioc.config.model import ProvinceConfig
from ioc.config.rules import Rule
from tests.alerts.support import add_target, make_config, probe, webhook

SHIPPED = yaml.safe_load((Path(__file__).parents[2] / "config" / "rules.yaml").read_text(
    encoding="utf-8"))["rules"]
RULE = TypeAdapter(Rule)


def shipped(*ids: str) -> ProvinceConfig:
    """The shipped rules of these ids, routed to a webhook nobody delivers to (the outbox is
    what the tests read)."""
    rules = [r for r in SHIPPED if r["id"] in ids]
    assert [r["id"] for r in rules] == list(ids)
    return make_config(rules=rules, channels=[webhook("ops", "http://127.0.0.1:9/hook")],
                       routing={"channels": ["ops"], "group_wait": "0s"})


def rule(rule_id: str) -> Any:
    return RULE.validate_python(next(r for r in SHIPPED if r["id"] == rule_id))


async def samples_by(conn: psycopg.AsyncConnection, rule_id: str, ctx: Context,
                     key: str) -> dict[str, Sample]:
    """A shipped rule's samples, by one of their labels."""
    parsed = rule(rule_id)
    found = await KINDS[parsed.kind].evaluate(conn, parsed, ctx)
    return {s.labels[key]: s for s in found}


async def samples(conn: psycopg.AsyncConnection, rule_id: str, ctx: Context) -> dict[str, Sample]:
    """Samples of a target or heartbeat rule, by target (or instance)."""
    key = "instance" if rule(rule_id).kind == "absence" and rule(rule_id).heartbeat else "target"
    return await samples_by(conn, rule_id, ctx, key)


async def heartbeat(conn: psycopg.AsyncConnection, collector: str, shard: str,
                    started: datetime, seen: datetime) -> None:
    await conn.execute(
        "INSERT INTO collector_heartbeats (collector_id, shard, started_at, seen_at, targets,"
        " version) VALUES (%s, %s, %s, %s, 10, 'test') ON CONFLICT (collector_id) DO UPDATE"
        " SET started_at = EXCLUDED.started_at, seen_at = EXCLUDED.seen_at",
        (collector, shard, started, seen))


async def history(conn: psycopg.AsyncConnection) -> tuple[list[tuple[str, str, str]], int]:
    """(rule, from, to) of every transition, and the number of events in the outbox."""
    cur = await conn.execute(
        "SELECT a.rule_id, t.from_state, t.to_state FROM alert_transitions t"
        " JOIN alerts a USING (fingerprint) ORDER BY t.id")
    transitions = [tuple(r) for r in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT coalesce(sum(jsonb_array_length(events)), 0) FROM notifications")
    row = await cur.fetchone()
    return transitions, int(row[0]) if row else 0


def at_start() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- down: consecutive failed probes ----------------------------------------------------------

@pytest.mark.parametrize(("polls", "expected"), [
    pytest.param("..x", (1.0, False, False), id="one-failed-probe-never-pages"),
    pytest.param(".xx", (2.0, True, False), id="two-in-a-row-page"),
    pytest.param("xx.", (0.0, False, False), id="a-good-probe-ends-it"),
    pytest.param("x.x", (1.0, False, False), id="not-consecutive"),
    pytest.param("x", (1.0, False, True), id="one-failure-after-a-gap-waits"),
    pytest.param("", (0.0, False, True), id="no-recent-probe-no-verdict"),
])
async def test_down_rule_counts_the_latest_failed_probes(
        conn: psycopg.AsyncConnection, polls: str, expected: tuple[float, bool, bool]) -> None:
    now = at_start()
    await add_target(conn, "portal-health")  # interval 10 s
    # probes from before a long gap are too old to count, failed or not
    await probe(conn, "portal-health", now - timedelta(minutes=10), False)
    await probe(conn, "portal-health", now - timedelta(minutes=9, seconds=50), False)
    for i, poll in enumerate(reversed(polls)):
        await probe(conn, "portal-health", now - timedelta(seconds=1 + 10 * i), poll == ".")
    got = (await samples(conn, "target-down", Context(now=now)))["portal-health"]
    assert (got.value, got.active, got.hold) == expected


async def test_down_rule_skips_disabled_targets_and_follows_the_selector(
        conn: psycopg.AsyncConnection) -> None:
    now = at_start()
    for target, system in (("portal-health", "portal"), ("payments-health", "payments"),
                           ("old-target", "portal")):
        await add_target(conn, target, system)
        for i in range(2):
            await probe(conn, target, now - timedelta(seconds=2 + 10 * i), False)
    await conn.execute("UPDATE targets SET enabled = false WHERE id = 'old-target'")
    parsed = RULE.validate_python({"id": "portal-down", "kind": "down", "name": "Cổng DVC",
                                   "selector": {"system": "portal"}})
    found = await KINDS["down"].evaluate(conn, parsed, Context(now=now))
    assert [(s.labels["target"], s.labels["system"], s.active) for s in found] == [
        ("portal-health", "portal", True)]


async def test_outage_pages_on_the_second_failed_probe_and_a_collector_gap_keeps_it(
        conn: psycopg.AsyncConnection) -> None:
    start = at_start()
    engine = Engine(conn, shipped("target-down"))
    await add_target(conn, "portal-health")
    step = timedelta(seconds=10)
    for i, poll in enumerate(".x..x.xx"):  # two single failures, then an outage
        await probe(conn, "portal-health", start + i * step, poll == ".")
        await engine.cycle(start + i * step + timedelta(seconds=1))
    assert await history(conn) == ([("target-down", "inactive", "firing")], 1)
    # the collector stops for 5 minutes with the outage going on, then probes again: the alert
    # stays firing throughout (no resolution, no new page) and resolves on a good probe
    back = start + 8 * step + timedelta(minutes=5)
    for t in (start + 8 * step + timedelta(minutes=2), back + timedelta(seconds=1)):
        if t >= back:
            await probe(conn, "portal-health", back, False)
        await engine.cycle(t)
    assert await history(conn) == ([("target-down", "inactive", "firing")], 1)
    await probe(conn, "portal-health", back + step, True)
    await engine.cycle(back + step + timedelta(seconds=1))
    assert await history(conn) == ([("target-down", "inactive", "firing"),
                                    ("target-down", "firing", "resolved")], 2)


# --- absence: start-up grace ------------------------------------------------------------------

async def test_a_fresh_start_gives_the_collector_its_grace(conn: psycopg.AsyncConnection) -> None:
    start = at_start()
    engine = Engine(conn, shipped("collector-heartbeat"))
    # nothing has ever beaten: no verdict during the first minute of the engine
    await engine.cycle(start)
    await engine.cycle(start + timedelta(seconds=30))
    await heartbeat(conn, "c1", "0/1", start + timedelta(seconds=40), start + timedelta(seconds=40))
    await engine.cycle(start + timedelta(seconds=61))
    assert await history(conn) == ([], 0)


async def test_a_collector_that_never_starts_pages_after_the_grace(
        conn: psycopg.AsyncConnection) -> None:
    start = at_start()
    engine = Engine(conn, shipped("collector-heartbeat"))
    for seconds in (0, 30, 59):
        await engine.cycle(start + timedelta(seconds=seconds))
    assert await history(conn) == ([], 0)
    await engine.cycle(start + timedelta(seconds=61))
    assert await history(conn) == ([("collector-heartbeat", "inactive", "firing")], 1)


async def test_restarting_everything_after_a_stop_does_not_page(
        conn: psycopg.AsyncConnection) -> None:
    """The demo stopped 20 minutes ago and starts again: engine, collector and targets all
    resume; nothing pages for the gap, whatever order they come back in."""
    start = at_start()
    stopped = start - timedelta(minutes=20)
    await heartbeat(conn, "c1", "0/1", stopped - timedelta(hours=1), stopped)
    intervals = {"portal-health": 5, "portal-home": 30, "portal-stats": 60,
                 "portal-national-count": 300}
    first_poll = {"portal-health": 5, "portal-home": 10, "portal-stats": 20,
                  "portal-national-count": 35}  # the collector spreads its first runs
    for target, interval in intervals.items():
        await add_target(conn, target)
        await conn.execute("UPDATE targets SET interval_s = %s, updated_at = %s WHERE id = %s",
                           (interval, stopped - timedelta(days=1), target))
        await probe(conn, target, stopped - timedelta(seconds=3), True)
    engine = Engine(conn, shipped("target-down", "portal-no-data", "collector-heartbeat"))
    await engine.cycle(start)  # the engine came up first
    collector_start = start + timedelta(seconds=5)
    for second in range(5, 600, 5):
        now = start + timedelta(seconds=second)
        await heartbeat(conn, "c1", "0/1", collector_start, now)
        for target, interval in intervals.items():
            if second >= first_poll[target] and (second - first_poll[target]) % interval == 0:
                await probe(conn, target, now, True)
        await engine.cycle(now + timedelta(seconds=1))
    assert await history(conn) == ([], 0)


async def test_a_target_that_stays_silent_after_the_restart_pages(
        conn: psycopg.AsyncConnection) -> None:
    start = at_start()
    stopped = start - timedelta(minutes=20)
    await add_target(conn, "portal-home")
    await conn.execute("UPDATE targets SET interval_s = 30, updated_at = %s",
                       (stopped - timedelta(days=1),))
    await probe(conn, "portal-home", stopped, True)
    await heartbeat(conn, "c1", "0/1", start, start)
    ctx = Context(now=start + timedelta(minutes=2), engine_started=start)
    got = (await samples(conn, "portal-no-data", ctx))["portal-home"]
    assert (got.active, got.hold) == (False, True)  # silent 22 minutes, but within the grace
    assert got.value == pytest.approx(22 * 60)
    ctx = Context(now=start + timedelta(minutes=3, seconds=1), engine_started=start)
    got = (await samples(conn, "portal-no-data", ctx))["portal-home"]
    assert (got.active, got.hold) == (True, False)


async def test_only_the_restarted_shard_gets_the_grace(conn: psycopg.AsyncConnection) -> None:
    now = at_start()
    ids = [f"portal-t{i}" for i in range(12)]
    for target in ids:
        await add_target(conn, target)
        await conn.execute("UPDATE targets SET updated_at = %s WHERE id = %s",
                           (now - timedelta(days=1), target))
        await probe(conn, target, now - timedelta(minutes=10), True)
    # shard 0 of 2 restarted a minute ago; shard 1 has been up (and silent) for a day
    await heartbeat(conn, "c0", "0/2", now - timedelta(minutes=1), now)
    await heartbeat(conn, "c1", "1/2", now - timedelta(days=1), now)
    got = await samples(conn, "portal-no-data", Context(now=now))
    assert {t: (s.active, s.hold) for t, s in got.items()} == {
        t: (False, True) if in_shard(t, 0, 2) else (True, False) for t in ids}
    assert {in_shard(t, 0, 2) for t in ids} == {True, False}  # both shards are exercised


def test_the_shard_of_a_target_is_the_collectors_own() -> None:
    for n in (1, 2, 3, 7):
        for i in range(200):
            target = f"target-{i}"
            assert in_shard(target, shard_of(target, n), n)


async def test_an_engine_restart_neither_resolves_nor_repeats_a_real_absence(
        conn: psycopg.AsyncConnection) -> None:
    start = at_start()
    dead = start - timedelta(minutes=10)
    await heartbeat(conn, "c1", "0/1", dead - timedelta(hours=1), dead)
    first = Engine(conn, shipped("collector-heartbeat"))
    await first.cycle(start)
    await first.cycle(start + timedelta(seconds=61))
    fired = ([("collector-heartbeat", "inactive", "firing")], 1)
    assert await history(conn) == fired
    second = Engine(conn, shipped("collector-heartbeat"))  # the engine restarts
    for seconds in (90, 120, 150, 180):
        await second.cycle(start + timedelta(seconds=seconds))
    assert await history(conn) == fired
    cur = await conn.execute("SELECT state FROM alerts")
    assert await cur.fetchall() == [("firing",)]
    # the collector comes back: resolved, and told once
    back = start + timedelta(seconds=200)
    await heartbeat(conn, "c1", "0/1", back, back)
    await second.cycle(back + timedelta(seconds=30))  # the rule's next evaluation
    assert await history(conn) == ([("collector-heartbeat", "inactive", "firing"),
                                    ("collector-heartbeat", "firing", "resolved")], 2)


# --- burn rate on little data ----------------------------------------------------------------

@pytest.mark.parametrize(("failed", "expected"), [
    pytest.param(1, {"page": False, "ticket": False}, id="one-failed-probe-fires-nothing"),
    pytest.param(2, {"page": True, "ticket": True}, id="two-do"),
])
async def test_burn_rate_needs_two_bad_probes_on_a_fresh_install(
        conn: psycopg.AsyncConnection, failed: int, expected: dict[str, bool]) -> None:
    """Two minutes of data: one failure in 24 probes is a 4 % error ratio, a burn of 8x the
    portal's 99.5 % objective (over the ticket's 1x), but one probe is not a trend."""
    now = at_start()
    await add_target(conn, "portal-health")
    for i in range(24):
        await probe(conn, "portal-health", now - timedelta(seconds=5 * i + 1), i >= failed)
    await conn.execute("SELECT ioc_rollup_run()")
    got = await samples_by(conn, "portal-slo-burn", Context(now=now), "slo_alert")
    assert {k: s.active for k, s in got.items()} == expected
    assert got["ticket"].value == pytest.approx(failed / 24 / 0.005)
