"""Routing, grouping and enqueueing: which channels hear about an alert, and when.

Runs inside the engine's transaction, so a transition and the notifications it causes are
committed together (the transactional outbox). It is level-triggered: every cycle it compares
each firing alert with what its episode has been sent (`alert_notified`) and enqueues what is
missing: the first message per channel, escalation steps whose time has come, repeats. A restart
therefore neither forgets a notification nor sends one twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts.inhibit import inhibited, longest_hold
from alerts.oncall import Recipient, step_recipients
from alerts.silence import Muter
from ioc.config.model import ProvinceConfig
from ioc.config.routing import Route


@dataclass(frozen=True)
class Planned:
    """A recipient an alert should reach now, with the route that decided it."""

    to: Recipient
    route: Route


def routing_labels(row: Mapping[str, Any]) -> dict[str, str]:
    """The labels routes, silences and windows match: the alert's plus severity and rule."""
    return {**row["labels"], "severity": row["severity"], "rule": row["rule_id"]}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """Alerts of one route with equal `group_by` labels share messages."""
    values = {k: labels.get(k, "") for k in route.group_by or ()}
    where = ",".join(str(m) for m in route.matchers)
    return f"{{{where}}}:" + json.dumps(values, ensure_ascii=False, sort_keys=True)


def plan(cfg: ProvinceConfig, row: Mapping[str, Any], now: datetime) -> list[Planned]:
    """Everyone a firing alert should have reached by `now` (escalation stops at an ack)."""
    labels = routing_labels(row)
    found: dict[tuple[str, str], Planned] = {}
    for route in cfg.routing.match(labels):
        recipients = [Recipient(name) for name in route.channels or ()]
        if route.escalation is not None and row["acked_at"] is None:
            policy = cfg.oncall.policy(route.escalation)
            for level, step in enumerate(policy.steps, start=1):
                if row["firing_at"] + step.after <= now:
                    recipients += step_recipients(cfg, step, level, now)
        for to in recipients:
            found.setdefault((to.channel, to.recipient), Planned(to, route))
    return list(found.values())


def event(row: Mapping[str, Any], kind: str, key: str, level: int,
          rule_name: str) -> dict[str, Any]:
    """One alert event as stored in a message (rendered by each notifier at send time)."""
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "key": key, "kind": kind, "status": "resolved" if kind == "resolved" else "firing",
        "fingerprint": row["fingerprint"], "rule_id": row["rule_id"], "rule": rule_name,
        "labels": row["labels"], "annotations": row["annotations"], "severity": row["severity"],
        "value": row["value"], "level": level, "episode": row["episode"],
        "started_at": iso(row["started_at"]), "firing_at": iso(row["firing_at"]),
        "resolved_at": iso(row["resolved_at"]),
    }


_NOTIFIED = """
INSERT INTO alert_notified (fingerprint, channel, recipient, episode, level, group_key,
    send_resolved, sends, last_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s)
ON CONFLICT (fingerprint, channel, recipient) DO UPDATE SET episode = EXCLUDED.episode,
    level = EXCLUDED.level, group_key = EXCLUDED.group_key,
    send_resolved = EXCLUDED.send_resolved, sends = 1, last_at = EXCLUDED.last_at
"""
_REPEATED = ("UPDATE alert_notified SET sends = sends + 1, last_at = %s"
             " WHERE fingerprint = %s AND channel = %s AND recipient = %s")


@dataclass
class Outgoing:
    """What one cycle decided to send, written at its end: one message per channel, recipient
    and group (so an alert storm is a few messages, not thousands), and the record of it."""

    events: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    due: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    notified: list[tuple[Any, ...]] = field(default_factory=list)
    repeated: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, to: Recipient, group: str, ev: dict[str, Any], due_at: datetime) -> None:
        key = (to.channel, to.recipient, group)
        self.events.setdefault(key, []).append(ev)
        self.due[key] = min(due_at, self.due.get(key, due_at))

    def __len__(self) -> int:
        return sum(len(evs) for evs in self.events.values())

    async def flush(self, conn: AsyncConnection[Any], cfg: ProvinceConfig,
                    now: datetime) -> int:
        """Write everything to the outbox (in the caller's transaction); returns events."""
        for (channel, recipient, group), evs in self.events.items():
            await _enqueue(conn, cfg.channel(channel).enabled, channel, recipient, group, evs,
                           self.due[(channel, recipient, group)], now)
        async with conn.cursor() as cur:
            if self.notified:
                await cur.executemany(_NOTIFIED, self.notified)
            if self.repeated:
                await cur.executemany(_REPEATED, self.repeated)
        count = len(self)
        self.events.clear()
        self.due.clear()
        self.notified.clear()
        self.repeated.clear()
        return count


async def _enqueue(conn: AsyncConnection[Any], enabled: bool, channel: str, recipient: str,
                   group: str, evs: list[dict[str, Any]], due_at: datetime,
                   now: datetime) -> None:
    """Add events to the group's message still waiting to go out, or start a new message.

    Only a message never attempted takes new events: one whose send may have reached the
    receiver keeps exactly the events (and the idempotency key) it was first sent with. A
    disabled channel's message is stored as `skipped`: visible, never silently dropped.
    """
    body = json.dumps(evs, ensure_ascii=False)
    async with conn.cursor() as cur:
        if enabled:
            await cur.execute(
                "UPDATE notifications SET events = events || %s::jsonb WHERE id = ("
                " SELECT id FROM notifications WHERE state = 'pending' AND attempts = 0"
                " AND channel = %s AND recipient = %s AND group_key = %s"
                " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)", (body, channel, recipient, group))
            if cur.rowcount == 1:
                return
        await cur.execute(
            "INSERT INTO notifications (idempotency_key, channel, recipient, group_key, events,"
            " state, due_at, created_at) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            (evs[0]["key"], channel, recipient, group, body,
             "pending" if enabled else "skipped", due_at, now))


def _key(row: Mapping[str, Any], transition: int, to: Recipient, repeat: int = 0) -> str:
    base = f"{row['fingerprint']}:{transition}:{to.channel}:{to.recipient}"
    return f"{base}:r{repeat}" if repeat else base


async def notify_firing(conn: AsyncConnection[Any], cfg: ProvinceConfig, mutes: Muter,
                        rule_names: Mapping[str, str], out: Outgoing, now: datetime) -> None:
    """Plan what each firing alert's episode still lacks: first messages, escalation steps
    whose time has come, repeats."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM alerts WHERE state = 'firing'")
        alerts = await cur.fetchall()
        await cur.execute("SELECT n.* FROM alert_notified n JOIN alerts a USING (fingerprint)"
                          " WHERE a.state = 'firing'")
        sent = {(r["fingerprint"], r["channel"], r["recipient"]): r
                for r in await cur.fetchall()}
    resolved: list[dict[str, Any]] = []
    hold = longest_hold(cfg.inhibit_rules)
    if hold:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT * FROM alerts WHERE state = 'resolved' AND resolved_at > %s",
                              (now - hold,))
            resolved = await cur.fetchall()
    muted_by = inhibited(
        cfg.inhibit_rules,
        [{**r, "labels": routing_labels(r)} for r in alerts],
        [{**r, "labels": routing_labels(r)} for r in resolved], now)
    await _record_inhibition(conn, muted_by, now)
    waiting = await _unsent_fingerprints(conn) if muted_by else set()
    for row in alerts:
        if row["fingerprint"] in muted_by:
            # muted by a firing source: nothing goes out, and what waits unsent is taken back
            if row["fingerprint"] not in waiting:
                continue
            gone = await withdraw(conn, row["fingerprint"])
            if gone:
                await conn.execute(
                    "DELETE FROM alert_notified WHERE fingerprint = %s"
                    " AND (channel, recipient) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                    (row["fingerprint"], [c for c, _ in gone], [r for _, r in gone]))
            continue
        if mutes.mutes(routing_labels(row)):
            continue
        name = rule_names.get(row["rule_id"], row["rule_id"])
        for p in plan(cfg, row, now):
            done = sent.get((row["fingerprint"], p.to.channel, p.to.recipient))
            _bring_up_to_date(out, row, p, done, name, now)


_REFRESH = """
UPDATE notifications n SET events = (
    SELECT jsonb_agg(CASE WHEN a.fingerprint IS NULL THEN x.e ELSE x.e
        || jsonb_build_object('value', a.value, 'annotations', a.annotations || coalesce((
            SELECT jsonb_build_object('muted', string_agg(m.annotations->>'summary', '; '
                ORDER BY m.firing_at, m.fingerprint), 'description', concat_ws(E'\\n',
                a.annotations->>'description', 'Cảnh báo bị ẩn: ' || string_agg(
                m.annotations->>'summary', '; ' ORDER BY m.firing_at, m.fingerprint)))
            FROM alerts m WHERE m.inhibited_by = a.fingerprint AND m.state = 'firing'
            HAVING count(*) > 0), '{}'::jsonb)) END ORDER BY x.i)
    FROM jsonb_array_elements(n.events) WITH ORDINALITY AS x(e, i)
    LEFT JOIN alerts a ON a.fingerprint = x.e->>'fingerprint' AND a.state = 'firing'
        AND x.e->>'status' = 'firing')
WHERE n.id IN (SELECT id FROM notifications WHERE state = 'pending' AND attempts = 0
               FOR UPDATE SKIP LOCKED)
"""


async def refresh_unsent(conn: AsyncConnection[Any]) -> None:
    """Bring the firing events of messages not yet attempted up to date (value, annotations,
    and the summaries of the alerts each one mutes, as `muted` and in `description`): a message
    waiting out its group_wait goes out with the picture as it is then (every target the system
    alert found down, the SLO burn it mutes), not as it was when it was queued."""
    await conn.execute(_REFRESH)


async def _record_inhibition(conn: AsyncConnection[Any], muted_by: Mapping[str, str],
                             now: datetime) -> None:
    """Write which alert mutes which (the API, the wall and acknowledgements read it)."""
    async with conn.cursor() as cur:
        await cur.execute("UPDATE alerts SET inhibited_by = NULL WHERE inhibited_by IS NOT NULL"
                          " AND NOT (fingerprint = ANY(%s))", (list(muted_by),))
        if muted_by:
            await cur.execute(
                "UPDATE alerts a SET inhibited_by = m.source FROM unnest(%s::text[], %s::text[])"
                " AS m(fp, source) WHERE a.fingerprint = m.fp"
                " AND a.inhibited_by IS DISTINCT FROM m.source",
                (list(muted_by), list(muted_by.values())))


async def _unsent_fingerprints(conn: AsyncConnection[Any]) -> set[str]:
    """Alerts with events in messages nobody has tried to send yet (a handful at most)."""
    cur = await conn.execute(
        "SELECT DISTINCT e->>'fingerprint' FROM notifications n,"
        " jsonb_array_elements(n.events) e WHERE n.state = 'pending' AND n.attempts = 0")
    return {r[0] for r in await cur.fetchall()}


async def withdraw(conn: AsyncConnection[Any], fingerprint: str,
                   waiting_at: datetime | None = None) -> set[tuple[str, str]]:
    """Take an alert's events out of the messages no one has tried to send yet (with
    `waiting_at`: only those still waiting out their group_wait then); a message left empty is
    deleted. Returns the (channel, recipient) pairs it was withdrawn from.

    A message once attempted is never changed (its idempotency key stands for its events)."""
    gone: set[tuple[str, str]] = set()
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, channel, recipient, events FROM notifications WHERE state = 'pending'"
            " AND attempts = 0 AND events @> %s::jsonb"
            " AND (%s::timestamptz IS NULL OR due_at > %s) FOR UPDATE SKIP LOCKED",
            (json.dumps([{"fingerprint": fingerprint}]), waiting_at, waiting_at))
        for msg in await cur.fetchall():
            keep = [e for e in msg["events"] if e["fingerprint"] != fingerprint]
            if keep:
                await cur.execute("UPDATE notifications SET events = %s::jsonb WHERE id = %s",
                                  (json.dumps(keep, ensure_ascii=False), msg["id"]))
            else:
                await cur.execute("DELETE FROM notifications WHERE id = %s", (msg["id"],))
            gone.add((msg["channel"], msg["recipient"]))
    return gone


def _bring_up_to_date(out: Outgoing, row: Mapping[str, Any], p: Planned,
                      done: Mapping[str, Any] | None, name: str, now: datetime) -> None:
    group = group_key(p.route, routing_labels(row))
    fp, to = row["fingerprint"], p.to
    if done is None or done["episode"] != row["episode"]:
        kind = "escalation" if to.level else "firing"
        ev = event(row, kind, _key(row, row["episode"], to), to.level, name)
        out.add(to, group, ev, now + (p.route.group_wait or timedelta(0)))
        out.notified.append((fp, to.channel, to.recipient, row["episode"], to.level, group,
                             bool(p.route.send_resolved), now))
        return
    repeat = p.route.repeat_interval
    if row["acked_at"] is not None or repeat is None or now - done["last_at"] < repeat:
        return
    out.add(to, group, event(row, "repeat", _key(row, row["episode"], to, done["sends"]),
                             to.level, name), now)
    out.repeated.append((now, fp, to.channel, to.recipient))


async def notify_resolved(conn: AsyncConnection[Any], cfg: ProvinceConfig,
                          row: Mapping[str, Any], transition: int, rule_name: str,
                          out: Outgoing, now: datetime) -> None:
    """Tell everyone who heard about the episode that it is over (where routes want that)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("DELETE FROM alert_notified WHERE fingerprint = %s RETURNING *",
                          (row["fingerprint"],))
        told = await cur.fetchall()
    unsent = await withdraw(conn, row["fingerprint"], now) if told else set()
    for t in told:
        if not t["send_resolved"] or t["channel"] not in cfg.channels_by_name:
            continue
        if (t["channel"], t["recipient"]) in unsent:
            continue  # its firing message was still waiting: nobody to tell (Alertmanager)
        to = Recipient(t["channel"], t["recipient"], t["level"])
        out.add(to, t["group_key"], event(row, "resolved", _key(row, transition, to),
                                          t["level"], rule_name), now)
