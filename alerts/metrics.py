"""`ioc alerts`' own Prometheus metrics, on an explicit registry (never the global one).

Counted as they happen: rule evaluations (time by rule kind, count and errors by rule), cycles,
transitions, notification deliveries by channel, leadership. Read from the database at scrape
time (so they are true whichever process changed them): open alerts by state and severity,
outbox depth and the age of its oldest undelivered message per channel.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from alerts.engine import CycleReport

log = logging.getLogger(__name__)

_RULE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STATES = ("pending", "firing")
_SEVERITIES = ("critical", "warning", "info")
_OUTBOX_STATES = ("pending", "sending")

_ALERTS = """
SELECT state, severity, count(*) FROM alerts WHERE state IN ('pending', 'firing')
 GROUP BY state, severity
"""
_OUTBOX = """
SELECT channel, state, count(*), min(created_at) FROM notifications
 WHERE state IN ('pending', 'sending') GROUP BY channel, state
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


class AlertMetrics:
    """Everything `ioc alerts` exports. `database_url` adds the scrape-time database gauges."""

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 database_url: str | None = None, channels: Iterable[str] = (),
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.registry = r = registry or CollectorRegistry(auto_describe=True)
        self.rule_seconds = Histogram(
            "ioc_alerts_rule_evaluation_seconds", "Time to evaluate one rule, by rule kind.",
            ["kind"], buckets=_RULE_BUCKETS, registry=r)
        self.rule_evaluations = Counter("ioc_alerts_rule_evaluations",
                                        "Rule evaluations attempted, by rule.", ["rule"],
                                        registry=r)
        self.rule_errors = Counter("ioc_alerts_rule_errors",
                                   "Rule evaluations that failed (state kept), by rule.",
                                   ["rule"], registry=r)
        self.apply_seconds = Histogram(
            "ioc_alerts_cycle_apply_seconds",
            "Time to apply one cycle's results: state, storage, routing, outbox.",
            buckets=_RULE_BUCKETS, registry=r)
        self.cycle_failures = Counter("ioc_alerts_cycle_failures",
                                      "Evaluation cycles that failed as a whole (retried).",
                                      registry=r)
        self.last_cycle = Gauge("ioc_alerts_last_cycle_timestamp_seconds",
                                "When the last evaluation cycle finished (Unix time).",
                                registry=r)
        self.transitions = Counter("ioc_alerts_transitions",
                                   "Alert state transitions recorded.", registry=r)
        self.enqueued = Counter("ioc_alerts_notification_events_enqueued",
                                "Alert events written to the outbox.", registry=r)
        self.leader = Gauge("ioc_alerts_leader",
                            "1 while this process holds the engine lock and evaluates.",
                            registry=r)
        self.sent = Counter("ioc_alerts_notifications_sent",
                            "Messages a channel accepted, by channel.", ["channel"], registry=r)
        self.failed = Counter("ioc_alerts_notifications_failed",
                              "Failed delivery attempts by channel; final=true when given up.",
                              ["channel", "final"], registry=r)
        self.send_seconds = Histogram("ioc_alerts_notification_send_seconds",
                                      "Time to hand one message to its channel.", ["channel"],
                                      buckets=_SEND_BUCKETS, registry=r)
        ProcessCollector(registry=r)
        self.channels = tuple(channels)
        for channel in self.channels:  # every configured channel has its series from the start
            self.sent.labels(channel)
            self.failed.labels(channel, "false")
            self.failed.labels(channel, "true")
        if database_url is not None:
            r.register(DatabaseGauges(database_url, self.channels, clock))

    def observe_cycle(self, report: CycleReport, kinds: Mapping[str, str],
                      at: datetime) -> None:
        """Record one engine cycle; `kinds` maps each rule id to its kind."""
        for rule_id in (*report.evaluated, *report.failed):
            self.rule_evaluations.labels(rule_id).inc()
            seconds = report.seconds.get(rule_id)
            if seconds is not None:
                self.rule_seconds.labels(kinds.get(rule_id, "unknown")).observe(seconds)
        for rule_id in report.failed:
            self.rule_errors.labels(rule_id).inc()
        if "apply" in report.seconds:
            self.apply_seconds.observe(report.seconds["apply"])
        self.transitions.inc(report.transitions)
        self.enqueued.inc(report.notifications)
        self.last_cycle.set(at.timestamp())

    def delivered(self, channel: str, outcome: str, seconds: float) -> None:
        """Record one delivery attempt: outcome 'sent', 'retry' or 'failed' (given up)."""
        if outcome == "sent":
            self.sent.labels(channel).inc()
        else:
            self.failed.labels(channel, "true" if outcome == "failed" else "false").inc()
        self.send_seconds.labels(channel).observe(seconds)


class DatabaseGauges(Collector):
    """Gauges read from the database at each scrape, on a connection of its own (opened per
    scrape: a few milliseconds every 15 s or so, and nothing held between scrapes).

    A scrape never waits long for a database that is down: short connect and statement
    timeouts, and `ioc_alerts_database_up 0` instead of the gauges.
    """

    def __init__(self, database_url: str, channels: Iterable[str],
                 clock: Callable[[], datetime]) -> None:
        self._url = database_url
        self._channels = tuple(channels)
        self._clock = clock
        self._lock = threading.Lock()  # concurrent scrapes read one after the other

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            try:
                alerts, outbox = self._read()
            except psycopg.Error as exc:
                log.warning("metrics: database read failed (%s)", type(exc).__name__)
                up = GaugeMetricFamily("ioc_alerts_database_up",
                                       "1 when the scrape-time database read succeeded.")
                up.add_metric([], 0)
                return [up]
        return list(self._families(alerts, outbox))

    def _read(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with psycopg.connect(self._url, autocommit=True, connect_timeout=3,
                             application_name="ioc-alerts-metrics",
                             options="-c statement_timeout=3000") as conn:
            return conn.execute(_ALERTS).fetchall(), conn.execute(_OUTBOX).fetchall()

    def _families(self, alerts: list[tuple[Any, ...]] | None = None,
                  outbox: list[tuple[Any, ...]] | None = None) -> Iterator[Metric]:
        up = GaugeMetricFamily("ioc_alerts_database_up",
                               "1 when the scrape-time database read succeeded.")
        up.add_metric([], 1)
        yield up
        counts = {(s, sev): 0 for s in _STATES for sev in _SEVERITIES}
        counts.update({(s, sev): n for s, sev, n in alerts or ()})
        open_ = GaugeMetricFamily("ioc_alerts_open", "Open alerts by state and severity.",
                                  labels=["state", "severity"])
        for (state, severity), n in sorted(counts.items()):
            open_.add_metric([state, severity], n)
        yield open_
        yield from self._outbox(outbox or [])

    def _outbox(self, rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
        depth = {(c, s): 0 for c in self._channels for s in _OUTBOX_STATES}
        oldest: dict[str, datetime | None] = dict.fromkeys(self._channels)
        for channel, state, n, first in rows:
            depth[(channel, state)] = n
            known = oldest.get(channel)
            oldest[channel] = first if known is None else min(known, first)
        messages = GaugeMetricFamily("ioc_alerts_outbox_messages",
                                     "Messages waiting in the outbox, by channel and state.",
                                     labels=["channel", "state"])
        for (channel, state), n in sorted(depth.items()):
            messages.add_metric([channel, state], n)
        yield messages
        age = GaugeMetricFamily("ioc_alerts_outbox_oldest_age_seconds",
                                "Age of the oldest undelivered message per channel (0: none).",
                                labels=["channel"])
        now = self._clock()
        for channel, first in sorted(oldest.items()):
            age.add_metric([channel], max(0.0, (now - first).total_seconds()) if first else 0.0)
        yield age

