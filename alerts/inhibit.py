"""Inhibition (config `inhibit_rules`), with Alertmanager's semantics.

While an alert matching a rule's `source_matchers` fires, every alert matching its
`target_matchers` whose `equal` labels have the same values (a label missing on both sides counts
as equal) is muted: it is still evaluated, stored and shown ("muted by ..."), but not notified and
not escalated. An alert never mutes itself, and an alert matching both sides of a rule is not
muted by another alert that also matches both sides of that rule. Matching sees the labels routes
see: the alert's own plus `severity` and `rule`.

The dispatcher asks this every cycle (it is level-triggered), so an alert whose source resolves
while it still fires is notified then, and one that was queued before its source fired is taken
back out of the messages that have not gone out yet. Beyond Alertmanager, a rule's `hold`
keeps muting, for that long after the source resolved, the alerts that started while it fired:
consequences that trail an outage (an SLO burn's windows, a target probed every 5 minutes) do
not page after the all-clear unless they outlast the hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ioc.config.matchers import match_all
from ioc.config.rules import InhibitRule


@dataclass(frozen=True)
class Source:
    """An alert that can mute others: firing, or resolved at `resolved_at` (for `hold`)."""

    fingerprint: str
    labels: Mapping[str, str]
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Inhibitor:
    """The inhibit rules and the alerts that can act as their sources at `now`."""

    rules: tuple[InhibitRule, ...]
    sources: tuple[Source, ...]
    now: datetime | None = None

    def muted_by(self, fingerprint: str, labels: Mapping[str, str],
                 started_at: datetime | None = None) -> str | None:
        """The fingerprint of the alert that mutes this one (which started at `started_at`),
        or None."""
        for rule in self.rules:
            if not match_all(rule.target_matchers, labels):
                continue
            both = match_all(rule.source_matchers, labels)
            for src in self.sources:
                if src.fingerprint == fingerprint or not match_all(rule.source_matchers,
                                                                   src.labels):
                    continue
                if src.resolved_at is not None and not (
                        self.now is not None and self.now < src.resolved_at + rule.hold
                        and started_at is not None and started_at <= src.resolved_at):
                    continue  # resolved: mutes only within its hold what began before
                if both and match_all(rule.target_matchers, src.labels):
                    continue  # matches both sides, as does the source: no mutual muting
                if all(labels.get(k, "") == src.labels.get(k, "") for k in rule.equal):
                    return src.fingerprint
        return None


def inhibited(rules: Sequence[InhibitRule], alerts: Sequence[Mapping[str, Any]],
              resolved: Sequence[Mapping[str, Any]] = (), now: datetime | None = None
              ) -> dict[str, str]:
    """{fingerprint: muting fingerprint} over firing alerts (rows with `fingerprint`,
    `labels` as routes see them and `started_at`); `resolved`: recently resolved alerts
    (with `resolved_at`), sources within their rules' `hold`."""
    if not rules:
        return {}
    inh = Inhibitor(tuple(rules), (
        *(Source(a["fingerprint"], a["labels"]) for a in alerts),
        *(Source(a["fingerprint"], a["labels"], a["resolved_at"]) for a in resolved)), now)
    found = {a["fingerprint"]: inh.muted_by(a["fingerprint"], a["labels"], a.get("started_at"))
             for a in alerts}
    return {fp: by for fp, by in found.items() if by is not None}


def longest_hold(rules: Sequence[InhibitRule]) -> timedelta:
    """How far back resolved alerts can still mute (0: only firing ones)."""
    return max((r.hold for r in rules), default=timedelta(0))
