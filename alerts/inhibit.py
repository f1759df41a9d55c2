"""Inhibition (config `inhibit_rules`), with Alertmanager's semantics.

While an alert matching a rule's `source_matchers` fires, every alert matching its
`target_matchers` whose `equal` labels have the same values (a label missing on both sides counts
as equal) is muted: it is still evaluated, stored and shown ("muted by ..."), but not notified and
not escalated. An alert never mutes itself, and an alert matching both sides of a rule is not
muted by another alert that also matches both sides of that rule. Matching sees the labels routes
see: the alert's own plus `severity` and `rule`.

The dispatcher asks this every cycle (it is level-triggered), so an alert whose source resolves
while it still fires is notified then, and one that was queued before its source fired is taken
back out of the messages that have not gone out yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ioc.config.matchers import match_all
from ioc.config.rules import InhibitRule


@dataclass(frozen=True)
class Inhibitor:
    """The inhibit rules and the firing alerts that can act as their sources."""

    rules: tuple[InhibitRule, ...]
    sources: tuple[tuple[str, Mapping[str, str]], ...]
    """(fingerprint, routing labels) of every firing alert."""

    @classmethod
    def of(cls, rules: Sequence[InhibitRule],
           firing: Sequence[tuple[str, Mapping[str, str]]]) -> Inhibitor:
        return cls(tuple(rules), tuple(firing) if rules else ())

    def muted_by(self, fingerprint: str, labels: Mapping[str, str]) -> str | None:
        """The fingerprint of a firing alert that mutes this one, or None."""
        for rule in self.rules:
            if not match_all(rule.target_matchers, labels):
                continue
            both = match_all(rule.source_matchers, labels)
            for fp, source in self.sources:
                if fp == fingerprint or not match_all(rule.source_matchers, source):
                    continue
                if both and match_all(rule.target_matchers, source):
                    continue  # matches both sides, as does the source: no mutual muting
                if all(labels.get(k, "") == source.get(k, "") for k in rule.equal):
                    return fp
        return None


def inhibited(rules: Sequence[InhibitRule],
              alerts: Sequence[tuple[str, Mapping[str, str]]]) -> dict[str, str]:
    """{fingerprint: muting fingerprint} over firing alerts (labels as routes see them)."""
    inh = Inhibitor.of(rules, alerts)
    if not inh.sources:
        return {}
    found = {fp: inh.muted_by(fp, labels) for fp, labels in alerts}
    return {fp: by for fp, by in found.items() if by is not None}

