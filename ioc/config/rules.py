"""Alert rules: typed kinds (threshold, absence, burn rate, KPI below target, reconciliation
breaks) and a SQL escape hatch; annotations are Jinja2 templates checked at load time."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import AfterValidator, Field, field_validator, model_validator

from ioc.config.matchers import Matcher
from ioc.config.types import (
    Duration,
    LabelName,
    Labels,
    MetricName,
    Model,
    Op,
    Percent,
    PositiveDuration,
    Severity,
    Slug,
    SystemName,
    check_select,
    fail,
)

TEMPLATE_VARIABLES = frozenset({"labels", "value", "rule", "severity", "system", "status",
                                "started_at"})
"""Names an annotation template may use; the alert engine renders with exactly these."""

KPI_766 = frozenset({"766.1.4", "766.2.1", "766.2.2", "766.3.1", "766.3.3", "766.3.6",
                     "766.4.1", "766.4.2", "766.5.4"})
"""Decision 766 indicators the IOC computes (docs: DOMAIN.md)."""

_KPI_ID = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
_ENV = SandboxedEnvironment(autoescape=False)


def check_template(text: str) -> str:
    """Parse a Jinja2 template in the sandbox and refuse unknown variables."""
    try:
        ast = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        fail(f"invalid template: {exc.message} (template line {exc.lineno})",
             "check the {{ }} and {% %} pairs, e.g. {{ labels.system }} or {{ value }}")
    unknown = sorted(meta.find_undeclared_variables(ast) - TEMPLATE_VARIABLES)
    if unknown:
        fail(f"unknown template variable '{unknown[0]}'",
             "use " + ", ".join(sorted(TEMPLATE_VARIABLES)))
    return text


def check_kpi(value: str) -> str:
    """A KPI id: a Decision 766 indicator (`766.2.1`) or a dotted name (`availability`)."""
    if value.startswith("766."):
        if value not in KPI_766:
            fail(f"unknown Decision 766 indicator '{value}'",
                 "known: " + ", ".join(sorted(KPI_766)))
    elif not _KPI_ID.fullmatch(value):
        fail(f"invalid KPI id '{value}'",
             "write e.g. 766.2.1, availability or payments.success_rate")
    return value


TemplateText = Annotated[str, AfterValidator(check_template)]
"""A Jinja2 template over TEMPLATE_VARIABLES, parsed in the sandbox at load time."""


class Selector(Model):
    """Which targets or series a rule looks at."""

    system: SystemName | None = Field(default=None, description="Only this system.")
    targets: tuple[Slug, ...] = Field(default=(), description="Only these target ids.")
    labels: Labels = Field(default_factory=dict, description="Only samples with these labels.")


class RuleBase(Model):
    """Fields every rule has."""

    id: Slug = Field(description="Unique rule id; part of each alert's fingerprint.")
    name: str = Field(min_length=1, description="Short title of the alert (Vietnamese).")
    severity: Severity = Field(default="warning", description="critical, warning or info.")
    for_: Duration = Field(default=timedelta(0), alias="for", description="How long the "
                           "condition must hold before the alert fires (pending until then).")
    interval: PositiveDuration = Field(default=timedelta(seconds=30),
                                       description="How often the rule is evaluated (30s).")
    failure_threshold: int = Field(default=1, ge=1, description="Consecutive failing "
                                   "evaluations needed to fire.")
    success_threshold: int = Field(default=1, ge=1, description="Consecutive passing "
                                   "evaluations needed to resolve (flap damping).")
    flap_threshold: int = Field(default=3, ge=2, description="An alert that fires this many "
                                "times within an hour is flapping: it then resolves only after "
                                "passing for flap_hold, so it does not spam.")
    flap_hold: PositiveDuration = Field(default=timedelta(minutes=10), description="How long "
                                        "a flapping alert must pass before it resolves (10m).")
    selector: Selector = Field(default_factory=Selector, description="Targets/system/labels "
                               "the rule applies to.")
    labels: Labels = Field(default_factory=dict, description="Labels added to the alert "
                           "(used by routing).")
    annotations: dict[str, TemplateText] = Field(
        default_factory=dict, description="Texts such as summary and description; Jinja2 "
        "templates over " + ", ".join(sorted(TEMPLATE_VARIABLES)) + ".")
    enabled: bool = Field(default=True, description="false keeps the rule but does not "
                          "evaluate it.")


class ThresholdRule(RuleBase):
    """An aggregate over a window compared with a value (e.g. p95 latency > 2000 ms)."""

    kind: Literal["threshold"] = Field(description="`threshold`.")
    probe: Literal["latency_ms", "success_rate", "cert_days"] | None = Field(
        default=None, description="Source: probe results of the selected targets.")
    metric: MetricName | None = Field(default=None, description="Source: a stored metric.")
    kpi: str | None = Field(default=None, description="Source: a KPI id (via ioc_kpi).")
    aggregate: Literal["avg", "max", "min", "p50", "p95", "p99", "rate", "count", "last"] = Field(
        default="avg", description="How the window is summarised.")
    window: PositiveDuration = Field(
        default=timedelta(minutes=5),
        description="Length of the window ending now (5m). For probes, a target polled less "
                    "often is judged over its last two polls: max(window, 2 × its interval).")
    op: Op = Field(description="Comparison: the alert condition is `aggregate op value`.")
    value: float = Field(description="The threshold, in the source's unit (ms, fraction, n).")

    @field_validator("kpi")
    @classmethod
    def _kpi_known(cls, value: str | None) -> str | None:
        return value if value is None else check_kpi(value)

    @model_validator(mode="after")
    def _one_source(self) -> ThresholdRule:
        if sum(x is not None for x in (self.probe, self.metric, self.kpi)) != 1:
            fail("a threshold rule needs exactly one source: probe, metric or kpi",
                 "e.g. probe: latency_ms with selector.targets, or metric: <name>")
        return self


class AbsenceRule(RuleBase):
    """Fires when no data arrives: from the selected targets, or a component's heartbeat."""

    kind: Literal["absence"] = Field(description="`absence`.")
    after: PositiveDuration = Field(description="Silence longer than this fires the alert.")
    heartbeat: Literal["collector", "alerts", "api"] | None = Field(
        default=None, description="Watch this component's heartbeat instead of targets.")

    @model_validator(mode="after")
    def _something_to_watch(self) -> AbsenceRule:
        s = self.selector
        if self.heartbeat is None and not (s.targets or s.system or s.labels):
            fail("an absence rule needs a selector or a heartbeat",
                 "add selector: {targets: [...]} or heartbeat: collector")
        return self


class DownRule(RuleBase):
    """A target is down when its latest N probes all failed (default 2: one never pages).

    Judged on each target's own latest probes, so a total outage pages one probe interval after
    the first failed probe. Probes older than (consecutive_failures + 1) × the target's interval
    + 30s do not count; without recent probes an alert keeps its state.
    """

    kind: Literal["down"] = Field(description="`down`.")
    consecutive_failures: int = Field(
        default=2, ge=1, le=100, description="How many of a target's latest probes must all "
        "have failed (2: one failed probe never pages).")


class SystemDownRule(RuleBase):
    """A system outage: enough of a system's critical targets down together (one alert per
    system, labelled `system`, whose first message lists the targets down and since when).

    A critical target counts as down when its latest `consecutive_failures` probes all failed
    (1 by default: two different targets failing at once is confirmation enough). The alert
    fires when at least `min_targets` critical targets, and at least `fraction` of those judged,
    are down; it resolves when none is down any more, so it does not flicker while the system
    comes back one target at a time.
    """

    kind: Literal["system_down"] = Field(description="`system_down`.")
    critical: tuple[Slug, ...] = Field(
        min_length=1, description="The critical targets (ids) whose failure together is the "
        "system's outage, e.g. [portal-health, portal-home, portal-search]; they may belong to "
        "several systems (one alert each).")
    min_targets: int = Field(default=2, ge=1, description="How many critical targets of one "
                             "system must be down together (2).")
    fraction: Percent = Field(default=0.0, description="And at least this share of the "
                              "system's critical targets that have recent probes (0%: any).")
    consecutive_failures: int = Field(
        default=1, ge=1, le=100, description="How many of a critical target's latest probes "
        "must all have failed for it to count as down (1).")


class InhibitRule(Model):
    """Alertmanager's inhibition: while an alert matching `source_matchers` fires, alerts
    matching `target_matchers` that have the same values of the `equal` labels are muted (still
    evaluated and stored, shown as muted, never notified nor escalated)."""

    source_matchers: tuple[Matcher, ...] = Field(
        min_length=1, description="Which firing alerts mute others, e.g. ['rule=\"portal-down\"']"
        " (labels, plus severity and rule).")
    target_matchers: tuple[Matcher, ...] = Field(
        min_length=1, description="Which alerts they mute, e.g. ['rule=~\"target-down|.*-slo-"
        "burn\"'].")
    equal: tuple[LabelName, ...] = Field(
        default=(), description="Labels that must have equal values in the source and the "
        "target alert (missing in both counts as equal), e.g. [system].")
    hold: Duration = Field(
        default=timedelta(0), description="Keep muting, for this long after the source "
        "resolved, the alerts that started while it fired (an SLO burn trails an outage by its "
        "windows); one still firing after that is notified. 0 (default): as Alertmanager.")


class BurnWindow(Model):
    """One multi-window burn-rate condition (Google SRE workbook)."""

    long: PositiveDuration = Field(description="Long window, e.g. 1h.")
    short: PositiveDuration = Field(description="Short window, e.g. 5m.")
    factor: float = Field(gt=0, description="Burn-rate factor both windows must exceed.")
    severity: Severity = Field(description="Severity when this pair fires.")


DEFAULT_BURN_WINDOWS = (
    BurnWindow(long=timedelta(hours=1), short=timedelta(minutes=5), factor=14.4,
               severity="critical"),
    BurnWindow(long=timedelta(hours=6), short=timedelta(minutes=30), factor=6,
               severity="critical"),
    BurnWindow(long=timedelta(days=3), short=timedelta(hours=6), factor=1, severity="warning"),
)


class BurnRateRule(RuleBase):
    """SLO error-budget burn rate over paired windows (page 1h/5m 14.4x, 6h/30m 6x; ticket
    3d/6h 1x)."""

    kind: Literal["burn_rate"] = Field(description="`burn_rate`.")
    system: SystemName = Field(description="Whose SLO (from systems.<name>.slo).")
    slo: Literal["availability", "latency"] = Field(default="availability",
                                                    description="Which objective.")
    windows: tuple[BurnWindow, ...] = Field(default=DEFAULT_BURN_WINDOWS, min_length=1,
                                            description="Window pairs; default the SRE set.")
    min_bad_events: int = Field(default=2, ge=1, description="A pair fires only when each of "
                                "its windows holds at least this many bad events (2: one "
                                "failed probe never fires it, however little data there is).")


class KpiBelowRule(RuleBase):
    """A KPI (fraction) below its target over today/this week/this month."""

    kind: Literal["kpi_below"] = Field(description="`kpi_below`.")
    kpi: str = Field(description="KPI id, e.g. 766.2.1 or payments.success_rate.")
    target: Percent = Field(description="Fire when the KPI is below this, e.g. 98%.")
    window: Literal["today", "week", "month"] = Field(
        default="today", description="Period in the province's time zone, up to now.")
    filter: dict[str, str] = Field(default_factory=dict, description="Passed to ioc_kpi as "
                                   "p_filter, e.g. {system: portal}.")
    min_denominator: int = Field(default=1, ge=0, description="Do not fire on fewer "
                                 "underlying items (e.g. dossiers) than this.")

    @field_validator("kpi")
    @classmethod
    def _kpi_known(cls, value: str) -> str:
        return check_kpi(value)


class ReconBreaksRule(RuleBase):
    """Reconciliation breaks (unmatched payments) open for too long."""

    kind: Literal["recon_breaks"] = Field(description="`recon_breaks`.")
    older_than: PositiveDuration = Field(description="Breaks older than this count, e.g. 24h.")
    min_count: int = Field(default=1, ge=1, description="Fire when at least this many.")


class SqlRule(RuleBase):
    """Escape hatch: a read-only query on the IOC database returning labels and `value`."""

    kind: Literal["sql"] = Field(description="`sql`.")
    query: str = Field(description="SELECT returning a `value` column and label columns.")
    op: Op = Field(description="Comparison applied to each row's value.")
    value: float = Field(description="The threshold.")

    _read_only = field_validator("query")(check_select)


Rule = Annotated[
    ThresholdRule | DownRule | SystemDownRule | AbsenceRule | BurnRateRule | KpiBelowRule
    | ReconBreaksRule | SqlRule,
    Field(discriminator="kind"),
]
"""Any rule, chosen by its `kind`."""
