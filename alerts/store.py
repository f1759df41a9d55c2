"""Reading and writing alert state: rows of `alerts`, `alert_transitions`, and the live event."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts.state import AlertState, Transition


def fingerprint(rule_id: str, labels: Mapping[str, str]) -> str:
    """Stable id of an alert: its rule and its label set."""
    text = json.dumps([rule_id, sorted(labels.items())], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def to_state(row: Mapping[str, Any]) -> AlertState:
    """The state machine's view of an `alerts` row."""
    return AlertState(
        state=row["state"], value=row["value"], started_at=row["started_at"],
        firing_at=row["firing_at"], resolved_at=row["resolved_at"],
        fail_count=row["fail_count"], ok_count=row["ok_count"], ok_since=row["ok_since"],
        fired_at=tuple(row["fired_at"] or ()), flapping=row["flapping"])


async def load(conn: AsyncConnection[Any], rule_ids: Sequence[str], now: datetime,
               keep_resolved: timedelta) -> dict[str, dict[str, Any]]:
    """Open alerts of these rules, and those resolved recently enough to matter (flapping)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM alerts WHERE rule_id = ANY(%s) AND (state <> 'resolved'"
            " OR resolved_at > %s)", (list(rule_ids), now - keep_resolved))
        return {r["fingerprint"]: r for r in await cur.fetchall()}


@dataclass(frozen=True)
class Change:
    """One alert's new state and what it went through to get there."""

    fingerprint: str
    rule_id: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    severity: str
    new: AlertState
    transitions: Sequence[Transition]


_UPSERT = """
INSERT INTO alerts AS a (fingerprint, rule_id, labels, annotations, severity, state, value,
    started_at, firing_at, resolved_at, updated_at, fail_count, ok_count, ok_since, fired_at,
    flapping, episode)
VALUES (%(fp)s, %(rule)s, %(labels)s, %(ann)s, %(sev)s, %(state)s, %(value)s, %(started)s,
    %(firing)s, %(resolved)s, %(now)s, %(fails)s, %(oks)s, %(ok_since)s, %(fired)s,
    %(flapping)s, %(episode)s)
ON CONFLICT (fingerprint) DO UPDATE SET labels = EXCLUDED.labels,
    annotations = EXCLUDED.annotations, severity = EXCLUDED.severity, state = EXCLUDED.state,
    value = EXCLUDED.value, started_at = EXCLUDED.started_at, firing_at = EXCLUDED.firing_at,
    resolved_at = EXCLUDED.resolved_at, updated_at = EXCLUDED.updated_at,
    fail_count = EXCLUDED.fail_count, ok_count = EXCLUDED.ok_count, ok_since = EXCLUDED.ok_since,
    fired_at = EXCLUDED.fired_at, flapping = EXCLUDED.flapping,
    episode = coalesce(EXCLUDED.episode, a.episode),
    acked_at = CASE WHEN EXCLUDED.episode IS NULL THEN a.acked_at END,
    acked_by = CASE WHEN EXCLUDED.episode IS NULL THEN a.acked_by END
RETURNING *
"""


async def save(conn: AsyncConnection[Any], ch: Change, now: datetime) -> tuple[
        dict[str, Any] | None, list[tuple[int, Transition]]]:
    """Write one change; returns the stored row (None if deleted) and the transition ids.

    A transition to firing starts a new episode: its id becomes `episode` and any earlier
    acknowledgement is cleared (an acknowledgement covers one episode).
    """
    ids: list[tuple[int, Transition]] = []
    async with conn.cursor(row_factory=dict_row) as cur:
        for tr in ch.transitions:
            await cur.execute(
                "INSERT INTO alert_transitions (fingerprint, rule_id, labels, severity,"
                " from_state, to_state, value, at, annotations)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (ch.fingerprint, ch.rule_id, _j(ch.labels), ch.severity, tr[0], tr[1],
                 ch.new.value, now, _j(ch.annotations)))
            got = await cur.fetchone()
            assert got is not None
            ids.append((int(got["id"]), tr))
            await cur.execute("SELECT pg_notify('ioc_events', %s)",
                              (_event(ch, tr, int(got["id"]), now),))
        if ch.new.state == "inactive":
            await cur.execute("DELETE FROM alerts WHERE fingerprint = %s", (ch.fingerprint,))
            return None, ids
        episode = next((i for i, tr in ids if tr[1] == "firing"), None)
        s = ch.new
        await cur.execute(_UPSERT, {
            "fp": ch.fingerprint, "rule": ch.rule_id, "labels": _j(ch.labels),
            "ann": _j(ch.annotations), "sev": ch.severity, "state": s.state, "value": s.value,
            "started": s.started_at or now, "firing": s.firing_at, "resolved": s.resolved_at,
            "now": now, "fails": s.fail_count, "oks": s.ok_count, "ok_since": s.ok_since,
            "fired": list(s.fired_at), "flapping": s.flapping, "episode": episode})
        return await cur.fetchone(), ids


_STEADY = """
UPDATE alerts SET value = %(value)s, annotations = %(ann)s, fail_count = %(fails)s,
    ok_count = %(oks)s, ok_since = %(ok_since)s, flapping = %(flapping)s, updated_at = %(now)s
 WHERE fingerprint = %(fp)s
"""


async def update_many(conn: AsyncConnection[Any], changes: Sequence[Change],
                      now: datetime) -> None:
    """Write changes that made no transition (a new value, a count towards a threshold) in
    one round of statements: a steady storm of firing alerts costs one batch per cycle."""
    if not changes:
        return
    async with conn.cursor() as cur:
        await cur.executemany(_STEADY, [
            {"value": c.new.value, "ann": _j(c.annotations), "fails": c.new.fail_count,
             "oks": c.new.ok_count, "ok_since": c.new.ok_since, "flapping": c.new.flapping,
             "now": now, "fp": c.fingerprint} for c in changes])


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _event(ch: Change, tr: Transition, transition_id: int, now: datetime) -> str:
    """The live event for the wall (`ioc_events`); kept well under NOTIFY's 8000 bytes."""
    payload = {"type": "alert", "event": "transition", "id": transition_id,
               "fingerprint": ch.fingerprint, "rule_id": ch.rule_id, "labels": ch.labels,
               "severity": ch.severity, "from": tr[0], "to": tr[1], "value": ch.new.value,
               "summary": ch.annotations.get("summary", ""), "at": now.isoformat()}
    text = json.dumps(payload, ensure_ascii=False)
    if len(text.encode()) > 7000:
        payload["labels"] = {k: ch.labels[k] for k in ("rule", "system") if k in ch.labels}
        payload["summary"] = str(payload["summary"])[:200]
        text = json.dumps(payload, ensure_ascii=False)
    return text
