"""One outage, one page: the shipped `system-down` rule and `inhibit_rules` (config/rules.yaml)
on a real database and real HTTP receivers, the engine stepped every 2 s at explicit times taken
from the real clock, probes written as the collectors write them.

A scripted total outage of the portal gives each channel exactly one firing message (the system
alert, naming the targets down) and one resolution; the per-target alerts are stored, muted (in
the API with "muted by") and never sent; acknowledging the system alert through its link covers
them and records whom the link was sent to.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
import psycopg
import pytest
import yaml

from alerts.ack import acknowledge_link
from alerts.actions import list_alerts
from alerts.engine import Engine
from alerts.inhibit import Inhibitor, Source
from alerts.outbox import Outbox
from ioc.config.model import ProvinceConfig
from ioc.config.rules import InhibitRule
from tests.alerts.support import SECRET, Receiver, add_target, make_config, probe, webhook

SHIPPED = yaml.safe_load((Path(__file__).parents[2] / "config" / "rules.yaml").read_text(
    encoding="utf-8"))
PORTAL = {"portal-health": 5, "portal-home": 10, "portal-search": 10}
"""The portal's critical targets of the test and their probe intervals (s)."""
STEP = timedelta(seconds=2)


def config(receiver: Receiver, *, inhibit: bool = True) -> ProvinceConfig:
    """The shipped target-down and system-down rules, inhibition and critical routing (group
    waits included), to two webhooks, the on-call person reachable by the second."""
    rules = [r for r in SHIPPED["rules"] if r["id"] in ("target-down", "system-down")]
    if not inhibit:  # "before": per-target alerts only
        rules = [r for r in rules if r["id"] == "target-down"]
    critical = next(r for r in SHIPPED["routing"]["routes"] if r.get("escalation"))
    return make_config(
        targets=[{"kind": "http", "id": t, "system": "portal", "name": t,
                  "url": "http://127.0.0.1:9/", "interval": f"{s}s", "timeout": "1s"}
                 for t, s in PORTAL.items()],
        rules=rules, inhibit_rules=SHIPPED["inhibit_rules"] if inhibit else [],
        channels=[webhook("ops-a", receiver.url + "/a"), webhook("ops-b", receiver.url + "/b")],
        oncall={"people": [{"id": "an-nv", "name": "Nguyễn Văn An",
                            "telegram_chat_id": "ops-b-chat"}]},
        routing={"channels": ["ops-a", "ops-b"], "routes": [{
            "matchers": critical["matchers"], "channels": ["ops-a", "ops-b"],
            "group_wait": critical["group_wait"], "routes": critical["routes"]}]})


def running(conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
            session: aiohttp.ClientSession, *, inhibit: bool = True
            ) -> tuple[Engine, Outbox, datetime]:
    """An engine and a delivery worker on the test's config, and when the script starts (ten
    minutes ago by the real clock)."""
    cfg = config(receiver, inhibit=inhibit)
    return (Engine(conn, cfg), Outbox(conn2, cfg, session, secret=SECRET),
            datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10))


async def outage(conn: psycopg.AsyncConnection, engine: Engine, outbox: Outbox, start: datetime,
                 down: tuple[float, float], until: float,
                 midway: Any = None) -> None:
    """Probe every portal target at its interval (failing within `down`, seconds from `start`),
    run a cycle every 2 s and deliver what is due; `midway(now)` is awaited once mid-outage."""
    for t, s in PORTAL.items():
        await add_target(conn, t)
        await conn.execute("UPDATE targets SET interval_s = %s WHERE id = %s", (s, t))
    offsets = {t: i * 1.3 for i, t in enumerate(PORTAL)}  # probes do not line up
    last: dict[str, float] = {}
    elapsed, checked = 0.0, False
    while elapsed <= until:
        now = start + timedelta(seconds=elapsed)
        for t, s in PORTAL.items():
            due = offsets[t] + s * int((elapsed - offsets[t]) // s)
            if due >= 0 and last.get(t) != due:
                last[t] = due
                await probe(conn, t, start + timedelta(seconds=due),
                            not down[0] <= due < down[1])
        await engine.cycle(now)
        await outbox.drain(now)
        if midway is not None and not checked and elapsed >= (down[0] + down[1]) / 2:
            checked = True
            await midway(now)
        elapsed += STEP.total_seconds()


def pages(receiver: Receiver, prefix: str) -> Counter[tuple[str, str]]:
    return Counter((ev["rule_id"], ev["status"]) for ev in receiver.events(prefix))


async def test_a_total_outage_of_one_system_pages_once_per_channel(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine, outbox, start = running(conn, conn2, receiver, session)
    seen: dict[str, Any] = {}

    async def midway(now: datetime) -> None:
        seen["open"] = await list_alerts(conn)

    await outage(conn, engine, outbox, start, (30, 150), 260, midway)

    for prefix in ("/a", "/b"):
        assert pages(receiver, prefix) == {("system-down", "firing"): 1,
                                           ("system-down", "resolved"): 1}, prefix
        assert len(receiver.accepted(prefix)) == 2
    first = receiver.events("/a")[0]
    assert first["labels"]["system"] == "portal" and first["value"] == 3.0
    listed = first["annotations"]["targets"]
    assert all(t in listed for t in PORTAL) and "lỗi từ" in listed  # which targets, since when
    # and the alerts it mutes (the SLO burn would be listed too), in what e-mails show
    assert "portal-health không phản hồi" in first["annotations"]["muted"]
    assert "Cảnh báo bị ẩn: " in first["annotations"]["description"]
    # the per-target alerts were not lost: firing, muted by the system alert, in the API
    system = next(a for a in seen["open"] if a["rule_id"] == "system-down")
    muted = {a["labels"]["target"]: a for a in seen["open"] if a["rule_id"] == "target-down"}
    assert set(muted) == set(PORTAL)
    assert {(a["state"], a["inhibited_by"]) for a in muted.values()} == {
        ("firing", system["fingerprint"])}
    assert {a["muted_by"] for a in muted.values()} == {system["annotations"]["summary"]}
    cur = await conn.execute("SELECT count(*) FILTER (WHERE state = 'resolved'),"
                             " count(*) FILTER (WHERE inhibited_by IS NOT NULL) FROM alerts"
                             " WHERE rule_id = 'target-down'")
    assert await cur.fetchone() == (3, 0)
    cur = await conn.execute("SELECT count(*) FROM notifications WHERE state <> 'sent'")
    assert await cur.fetchone() == (0,)


async def test_without_inhibition_the_same_outage_pages_per_target(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    """The "before" of the test above (bench/RESULTS.md): one alert per target."""
    engine, outbox, start = running(conn, conn2, receiver, session, inhibit=False)
    await outage(conn, engine, outbox, start, (30, 150), 260)
    assert pages(receiver, "/a") == {("target-down", "firing"): 3,
                                     ("target-down", "resolved"): 3}


async def test_acknowledging_the_system_alert_covers_what_it_mutes(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine, outbox, start = running(conn, conn2, receiver, session)
    outcome: dict[str, Any] = {}

    async def ack(now: datetime) -> None:
        # the link in the message sent to the on-call person's address names them
        msg = outbox.message({"idempotency_key": "k", "channel": "ops-b",
                              "recipient": "ops-b-chat", "events": receiver.events("/b")[:1]},
                             now)
        token = unquote(next(iter(msg.ack_urls.values())).rsplit("/", 1)[1])
        outcome["result"] = await acknowledge_link(conn, token, SECRET, now)
        outcome["alerts"] = await list_alerts(conn)

    await outage(conn, engine, outbox, start, (30, 150), 200, ack)
    assert outcome["result"].ok
    acked = {(a["rule_id"], a["acked_by"]) for a in outcome["alerts"]}
    assert acked == {("system-down", "an-nv"), ("target-down", "an-nv")}
    cur = await conn.execute("SELECT count(*), count(DISTINCT acked_by) FROM alert_acks")
    assert await cur.fetchone() == (4, 1)


@pytest.mark.parametrize(("target", "source", "muted"), [
    pytest.param({"rule": "target-down", "system": "portal"},
                 {"rule": "system-down", "system": "portal"}, True, id="same-system"),
    pytest.param({"rule": "target-down", "system": "payments"},
                 {"rule": "system-down", "system": "portal"}, False, id="other-system"),
    pytest.param({"rule": "portal-slo-burn", "system": "portal"},
                 {"rule": "system-down", "system": "portal"}, True, id="burn-rate"),
    pytest.param({"rule": "system-down", "system": "portal"},
                 {"rule": "system-down", "system": "portal"}, False, id="not-itself"),
])
def test_inhibition_follows_alertmanager(target: dict[str, str], source: dict[str, str],
                                         muted: bool) -> None:
    rules = tuple(InhibitRule.model_validate(r) for r in SHIPPED["inhibit_rules"])
    inh = Inhibitor(rules, (Source("src", source),))
    assert (inh.muted_by("tgt", target) == "src") is muted


def test_a_resolved_source_keeps_muting_what_began_during_it_for_its_hold() -> None:
    rule = InhibitRule.model_validate({"source_matchers": ['rule="system-down"'],
                                       "target_matchers": ['rule="portal-slo-burn"'],
                                       "equal": ["system"], "hold": "30m"})
    back = datetime.now(UTC)
    source = Source("src", {"rule": "system-down", "system": "portal"}, resolved_at=back)
    burn = {"rule": "portal-slo-burn", "system": "portal"}
    during, after = back - timedelta(minutes=3), back + timedelta(minutes=1)
    for now, started, muted in ((back + timedelta(minutes=29), during, True),
                                (back + timedelta(minutes=31), during, False),
                                (back + timedelta(minutes=2), after, False)):
        assert (Inhibitor((rule,), (source,), now).muted_by("b", burn, started) == "src") is muted
    no_hold = rule.model_copy(update={"hold": timedelta(0)})
    assert Inhibitor((no_hold,), (source,), back).muted_by("b", burn, during) is None


def test_an_alert_matching_both_sides_is_not_muted_by_another_that_does() -> None:
    rule = InhibitRule.model_validate({"source_matchers": ['severity="critical"'],
                                       "target_matchers": ['severity=~"critical|warning"'],
                                       "equal": ["system"]})
    critical = {"severity": "critical", "system": "portal"}
    inh = Inhibitor((rule,), (Source("a", critical), Source("b", critical)))
    assert inh.muted_by("a", critical) is None
    assert inh.muted_by("w", {"severity": "warning", "system": "portal"}) == "a"
    assert inh.muted_by("x", {"severity": "warning"}) is None  # equal: system missing on one side
