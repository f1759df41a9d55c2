"""Delivery workers: claim a due message from the outbox, send it, record the outcome.

At-least-once: a message is marked sent only after its channel accepted it; a worker that dies
mid-send leaves a claim whose lease expires, and another worker sends it again with the same
idempotency key. Retries back off exponentially with jitter up to a cap; a permanent error
(a 4xx answer, a refused recipient) is not retried and stays visible as `failed`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts import ack
from alerts.metrics import AlertMetrics
from alerts.notify import Message, Notifier, TransportError, make_notifiers
from ioc.config.channels import vn_phone
from ioc.config.model import ProvinceConfig

log = logging.getLogger(__name__)

_CLAIM = """
UPDATE notifications SET state = 'sending', attempts = attempts + 1, claimed_until = %(lease)s
 WHERE id = (SELECT id FROM notifications
              WHERE (state = 'pending' AND due_at <= %(now)s)
                 OR (state = 'sending' AND claimed_until < %(now)s)
              ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING *
"""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits about base·2ⁿ⁻¹, at most `cap`."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Wait before the next attempt: half fixed, half random (so retries spread out)."""
        full = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** (attempt - 1))
        return timedelta(seconds=full / 2 + rng.uniform(0, full / 2))


class Outbox:
    """Sends the messages in `notifications` through the configured channels."""

    def __init__(self, conn: AsyncConnection[Any], cfg: ProvinceConfig,
                 session: aiohttp.ClientSession, *, secret: str, public_url: str = "",
                 backoff: Backoff | None = None, lease: timedelta = timedelta(seconds=60),
                 rng: random.Random | None = None,
                 notifiers: Mapping[str, Notifier] | None = None,
                 metrics: AlertMetrics | None = None) -> None:
        self.conn = conn
        self.metrics = metrics
        self.secret = secret
        self.public_url = public_url or cfg.province.public_url
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.rng = rng or random.Random()
        self.languages = {c.name: c.language for c in cfg.channels}
        self.people = {address: p.id for p in cfg.oncall.people
                       for address in (p.email, p.telegram_chat_id, vn_phone(p.phone or ""))
                       if address}
        """Who an address belongs to: an ack link names the person it was sent to."""
        self.notifiers = dict(notifiers) if notifiers is not None else make_notifiers(
            cfg.channels, session, conn, secret)

    async def claim(self, now: datetime) -> dict[str, Any] | None:
        """Take the next due message (or one whose sender's lease ran out)."""
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_CLAIM, {"now": now, "lease": now + self.lease})
            return await cur.fetchone()

    def message(self, row: Mapping[str, Any], now: datetime) -> Message:
        """The channel-independent message of an outbox row, with fresh ack links."""
        to = self.people.get(row["recipient"]) or row["recipient"] or row["channel"]
        links = {ev["fingerprint"]: ack.link(self.public_url, ev["fingerprint"], ev["episode"],
                                             now, self.secret, to=to)
                 for ev in row["events"] if ev["status"] == "firing" and self.secret}
        return Message(key=row["idempotency_key"], channel=row["channel"],
                       recipient=row["recipient"], events=tuple(row["events"]), ack_urls=links,
                       language=self.languages.get(row["channel"], "vi"), sent_at=now,
                       public_url=self.public_url)

    async def deliver_one(self, now: datetime) -> str | None:
        """Send one due message: 'sent', 'retry', 'failed', or None when nothing is due."""
        row = await self.claim(now)
        if row is None:
            return None
        started = time.perf_counter()
        outcome = await self._deliver(row, now)
        if self.metrics is not None:
            self.metrics.delivered(row["channel"], outcome, time.perf_counter() - started)
        return outcome

    async def _deliver(self, row: Mapping[str, Any], now: datetime) -> str:
        notifier = self.notifiers.get(row["channel"])
        try:
            if notifier is None:
                raise TransportError(f"channel '{row['channel']}' is no longer configured",
                                     permanent=True)
            msg = self.message(row, now)
            await notifier.send(notifier.render(msg), msg)
        except TransportError as exc:
            return await self._failed(row, exc, now)
        except Exception as exc:  # a bug in a notifier must not stop delivery of the rest
            log.exception("notifier %s raised", row["channel"])
            return await self._failed(row, TransportError(f"internal error "
                                                          f"({type(exc).__name__})"), now)
        await self._record(row, "sent", None, now, sent=True)
        log.info("sent %s to %s", row["idempotency_key"], row["channel"])
        return "sent"

    async def _failed(self, row: Mapping[str, Any], exc: TransportError, now: datetime) -> str:
        text = str(exc)
        if exc.permanent or now - row["created_at"] >= self.backoff.give_up_after:
            if not exc.permanent:
                text = f"gave up after {row['attempts']} attempts: {text}"
            log.error("delivery to %s failed for good: %s", row["channel"], text)
            await self._record(row, "failed", text, now)
            return "failed"
        due = now + self.backoff.delay(row["attempts"], self.rng)
        log.warning("delivery to %s failed (attempt %d), retry at %s: %s", row["channel"],
                    row["attempts"], due.isoformat(), text)
        await self._record(row, "pending", text, due)
        return "retry"

    async def _record(self, row: Mapping[str, Any], state: str, error: str | None,
                      at: datetime, sent: bool = False) -> None:
        # fenced by the attempt number: a worker whose lease expired cannot overwrite
        await self.conn.execute(
            "UPDATE notifications SET state = %s, last_error = %s, claimed_until = NULL,"
            " due_at = CASE WHEN %s THEN due_at ELSE %s END,"
            " sent_at = CASE WHEN %s THEN %s ELSE sent_at END"
            " WHERE id = %s AND state = 'sending' AND attempts = %s",
            (state, error, sent, at, sent, at, row["id"], row["attempts"]))

    async def drain(self, now: datetime) -> dict[str, int]:
        """Deliver every message due at `now` (tests and `ioc alerts --once`)."""
        counts: dict[str, int] = {}
        while (outcome := await self.deliver_one(now)) is not None:
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


async def run_worker(outbox: Outbox, clock: Callable[[], datetime], poll: float,
                     stop: asyncio.Event) -> None:
    """Deliver until `stop`; sleep `poll` seconds whenever nothing is due."""
    while not stop.is_set():
        try:
            if await outbox.deliver_one(clock()) is not None:
                continue
        except Exception:  # e.g. the database went away: log, wait, try again
            log.exception("delivery worker error")
        try:
            await asyncio.wait_for(stop.wait(), timeout=poll)
        except TimeoutError:
            pass
