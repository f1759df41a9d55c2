"""Cross-references between sections: every name used must be defined, every id unique.

Each check states which sections it reads; it runs only when those sections are themselves
valid, so one typo does not cascade into a page of false "unknown ..." errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ioc.config.channels import ZaloAuth, vn_phone
from ioc.config.model import ProvinceConfig

Loc = tuple[str | int, ...]
Where = Callable[[Loc], str]
"""Gives `file:line` of a location, for messages that point at a second place."""


@dataclass(frozen=True)
class Problem:
    """A reference problem at a location in the merged config."""

    loc: Loc
    message: str
    hint: str
    level: Literal["error", "warning"] = "error"
    name: str | None = None
    """For an unknown reference: the name that is not defined."""


def unknown(loc: Loc, kind: str, name: str, known: Iterable[str], defined_in: str) -> Problem:
    """The problem of a name that is not defined, with a close match as a hint."""
    names = sorted(set(known))
    listed = ", ".join(names) if names else "none defined"
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return Problem(loc, f"unknown {kind} '{name}' (known: {listed})",
                   f"{hint}define it in {defined_in} or fix the name", name=name)


def _duplicates(section: Loc, ids: Sequence[str], field: str, what: str,
                where: Where) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for i, item_id in enumerate(ids):
        if item_id in first:
            at = where((*section, first[item_id], field))
            yield Problem((*section, i, field), f"duplicate {what} '{item_id}'",
                          f"{what}s must be unique; the first is at {at}")
        else:
            first[item_id] = i


_UNIQUE: tuple[tuple[str, Loc, str, str, Callable[[ProvinceConfig], list[str]]], ...] = (
    ("targets", ("targets",), "id", "target id", lambda c: [t.id for t in c.targets]),
    ("rules", ("rules",), "id", "rule id", lambda c: [r.id for r in c.rules]),
    ("channels", ("channels",), "name", "channel name", lambda c: [x.name for x in c.channels]),
    ("maintenance", ("maintenance",), "id", "maintenance id",
     lambda c: [m.id for m in c.maintenance]),
    ("oncall", ("oncall", "people"), "id", "person id", lambda c: [p.id for p in c.oncall.people]),
    ("oncall", ("oncall", "rotations"), "id", "rotation id",
     lambda c: [r.id for r in c.oncall.rotations]),
    ("oncall", ("oncall", "escalation_policies"), "id", "policy id",
     lambda c: [p.id for p in c.oncall.escalation_policies]),
)


def check_unique(cfg: ProvinceConfig, valid: frozenset[str], where: Where) -> Iterator[Problem]:
    """Ids of targets, rules, channels, windows, people, rotations and policies are unique."""
    for section, loc, field, what, ids in _UNIQUE:
        if section in valid:
            yield from _duplicates(loc, ids(cfg), field, what, where)


def check_rule_targets(cfg: ProvinceConfig, where: Where) -> Iterator[Problem]:
    """Rule selectors name existing targets of the selected system."""
    for i, rule in enumerate(cfg.rules):
        sel = rule.selector
        for j, target_id in enumerate(sel.targets):
            loc = ("rules", i, "selector", "targets", j)
            target = cfg.targets_by_id.get(target_id)
            if target is None:
                yield unknown(loc, "target", target_id, cfg.targets_by_id, "targets.yaml")
            elif sel.system is not None and target.system != sel.system:
                yield Problem(loc, f"target '{target_id}' belongs to system {target.system}, "
                              f"not {sel.system}", "fix selector.system or the target")
            elif not target.enabled:
                yield Problem(loc, f"target '{target_id}' is disabled", "the rule will see no "
                              "data from it; enable the target or remove it here", "warning")
        for j, target_id in enumerate(getattr(rule, "critical", ())):
            if target_id not in cfg.targets_by_id:
                yield unknown(("rules", i, "critical", j), "target", target_id,
                              cfg.targets_by_id, "targets.yaml")


def check_inhibit_rules(cfg: ProvinceConfig, where: Where) -> Iterator[Problem]:
    """Inhibition matchers on `rule` with `=` name existing rules (a typo would mute nothing)."""
    for i, inhibit in enumerate(cfg.inhibit_rules):
        for side in ("source_matchers", "target_matchers"):
            for j, m in enumerate(getattr(inhibit, side)):
                if m.label == "rule" and m.op == "=" and m.value not in cfg.rules_by_id:
                    yield unknown(("inhibit_rules", i, side, j), "rule", m.value,
                                  cfg.rules_by_id, "rules.yaml")


def _channel_refs(cfg: ProvinceConfig) -> Iterator[tuple[Loc, str]]:
    for loc, route in cfg.routing.walk():
        for j, name in enumerate(route.channels or ()):
            yield ("routing", *loc, "channels", j), name
    for i, policy in enumerate(cfg.oncall.escalation_policies):
        for k, step in enumerate(policy.steps):
            for field in ("channels", "via"):
                for j, name in enumerate(getattr(step, field)):
                    yield ("oncall", "escalation_policies", i, "steps", k, field, j), name
    if cfg.report is not None:
        yield ("report", "channel"), cfg.report.channel


PERSON_KINDS = frozenset({"email", "telegram", "zalo_zns"})
"""Channel kinds that can reach one person (at their e-mail, chat id, mobile phone)."""


def check_channels(cfg: ProvinceConfig, where: Where) -> Iterator[Problem]:
    """Routes, escalation steps and the report name defined channels; none is left unused."""
    used: set[str] = set()
    for loc, name in _channel_refs(cfg):
        used.add(name)
        channel = cfg.channels_by_name.get(name)
        if channel is None:
            yield unknown(loc, "channel", name, cfg.channels_by_name, "channels.yaml")
        elif "via" in loc and channel.kind not in PERSON_KINDS:
            yield Problem(loc, f"channel '{name}' is a {channel.kind} channel, which cannot "
                          "reach a person", "via takes email, telegram or zalo_zns channels")
    if cfg.rules and not cfg.routing.channels:
        yield Problem(("routing", "channels"), "the root route has no channels",
                      "add channels: [...] to routing so that alerts no route takes still "
                      "reach someone")
    for i, channel in enumerate(cfg.channels):
        if channel.name not in used:
            yield Problem(("channels", i, "name"), f"channel '{channel.name}' is not used",
                          "reference it from a route, an escalation step or the report",
                          "warning")
    if cfg.report is not None and cfg.report.channel in cfg.channels_by_name:
        kind = cfg.channel(cfg.report.channel).kind
        if kind != "email":
            yield Problem(("report", "channel"), f"report channel '{cfg.report.channel}' is a "
                          f"{kind} channel", "the report is e-mailed: name an email channel")


def _oncall_refs(cfg: ProvinceConfig) -> Iterator[tuple[Loc, str, str]]:
    """(location, kind, name) of every person and rotation named in the on-call section."""
    o = cfg.oncall
    for i, rotation in enumerate(o.rotations):
        for j, person in enumerate(rotation.participants):
            yield ("oncall", "rotations", i, "participants", j), "person", person
    for i, override in enumerate(o.overrides):
        yield ("oncall", "overrides", i, "rotation"), "rotation", override.rotation
        yield ("oncall", "overrides", i, "person"), "person", override.person
    for i, policy in enumerate(o.escalation_policies):
        for k, step in enumerate(policy.steps):
            base: Loc = ("oncall", "escalation_policies", i, "steps", k)
            if step.rotation is not None:
                yield (*base, "rotation"), "rotation", step.rotation
            for j, person in enumerate(step.people):
                yield (*base, "people", j), "person", person


def check_escalation(cfg: ProvinceConfig, where: Where) -> Iterator[Problem]:
    """Routes name defined policies; policies, rotas and overrides name defined people."""
    o = cfg.oncall
    defined = {
        "person": ({p.id for p in o.people}, "oncall.yaml (people)"),
        "rotation": ({r.id for r in o.rotations}, "oncall.yaml (rotations)"),
        "escalation policy": ({p.id for p in o.escalation_policies},
                              "oncall.yaml (escalation_policies)"),
    }
    refs = list(_oncall_refs(cfg))
    refs += [(("routing", *loc, "escalation"), "escalation policy", route.escalation)
             for loc, route in cfg.routing.walk() if route.escalation is not None]
    for loc, kind, name in refs:
        known, defined_in = defined[kind]
        if name not in known:
            yield unknown(loc, kind, name, known, defined_in)


def _step_people(cfg: ProvinceConfig) -> Iterator[tuple[Loc, str, tuple[str, ...]]]:
    """(location, person id, via) for everyone an escalation step may notify."""
    rotations = {r.id: r for r in cfg.oncall.rotations}
    for i, policy in enumerate(cfg.oncall.escalation_policies):
        for k, step in enumerate(policy.steps):
            base: Loc = ("oncall", "escalation_policies", i, "steps", k)
            rotation = rotations.get(step.rotation or "")
            for person in rotation.participants if rotation else ():
                yield (*base, "rotation"), person, step.via
            for j, person in enumerate(step.people):
                yield (*base, "people", j), person, step.via


def check_reachable(cfg: ProvinceConfig, where: Where) -> Iterator[Problem]:
    """Everyone an escalation step notifies has an address one of its `via` channels can use."""
    people = {p.id: p for p in cfg.oncall.people}
    for loc, person_id, via in _step_people(cfg):
        person = people.get(person_id)
        kinds = {cfg.channels_by_name[n].kind for n in via if n in cfg.channels_by_name}
        if person is None or not kinds & PERSON_KINDS:
            continue  # an unknown person or unusable via channels are reported on their own
        if (("email" in kinds and person.email)
                or ("telegram" in kinds and person.telegram_chat_id)
                or ("zalo_zns" in kinds and vn_phone(person.phone or ""))):
            continue
        yield Problem(loc, f"{person.name} ({person_id}) cannot be reached via "
                      f"{', '.join(via)}", "give the person an email, telegram_chat_id or "
                      "mobile phone that one of the via channels can use, or add such a "
                      "channel to via")


def check_token_stores(cfg: ProvinceConfig, where: Where) -> Iterator[Problem]:
    """Zalo channels sharing a token store name the same app and the same first refresh token
    (one OA has one token pair: two seeds would spend each other's refresh tokens)."""
    first: dict[str, tuple[str, tuple[str, str, str]]] = {}
    for i, channel in enumerate(cfg.channels):
        if not isinstance(channel, ZaloAuth):
            continue
        creds = (channel.app_id, channel.secret_key.get_secret_value(),
                 channel.refresh_token.get_secret_value())
        name, seen = first.setdefault(channel.store, (channel.name, creds))
        if seen != creds:
            yield Problem(("channels", i, "token_store"), f"channel '{channel.name}' shares the "
                          f"token store '{channel.store}' with '{name}' but not its app_id, "
                          "secret_key and refresh_token", "give both the same credentials, "
                          "or a token_store of their own")


Check = Callable[[ProvinceConfig, Where], Iterator[Problem]]

CHECKS: tuple[tuple[frozenset[str], Check], ...] = (
    (frozenset({"targets", "rules"}), check_rule_targets),
    (frozenset({"rules", "inhibit_rules"}), check_inhibit_rules),
    (frozenset({"routing", "channels", "oncall", "report", "rules"}), check_channels),
    (frozenset({"routing", "oncall"}), check_escalation),
    (frozenset({"oncall", "channels"}), check_reachable),
    (frozenset({"channels"}), check_token_stores),
)
"""Each check with the sections it needs to be valid before it can run."""


def check_references(cfg: ProvinceConfig, valid: frozenset[str], where: Where) -> list[Problem]:
    """Run every check whose sections are all valid."""
    problems = list(check_unique(cfg, valid, where))
    problems += [p for needs, check in CHECKS if needs <= valid for p in check(cfg, where)]
    return problems
