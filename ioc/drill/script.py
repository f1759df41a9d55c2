"""The drill's script: which fault hits which target when, the targets and rules that see them.

Times in the script are scripted minutes of "the hour"; `--scale N` runs N scripted seconds per
real second (scale 60: a 5-minute fault lasts 5 s). Probe intervals, timeouts and rule windows
are real seconds, tuned so that a fault of a few real seconds is detected and resolved.

Each fault acts on one target only (an `endpoint` prefix of its own; the outage, which takes a
whole system down, hits the documents system, which has a single target), so each step expects
exactly one alert: its rule with `labels.target` = its target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 0.9
RULE_INTERVAL_S = 0.5
DETECT_ALLOWANCE_S = 5.0
"""Fault start (end) to alert firing (resolved): a probe interval and timeout, the write-path
flush, a rule interval and an engine tick, with margin."""

LATENCY_THRESHOLD_MS = 300.0
DOWN_RULE = "drill-target-down"
SLOW_RULE = "drill-target-slow"
WEBHOOK = "drill-webhook"
HOOK_SECRET = "drill-hook-secret"  # noqa: S105 - a loopback receiver's HMAC key, not a credential
DOSSIERS_TARGET = "drill-portal-dossiers"


@dataclass(frozen=True)
class Step:
    """One fault of the script and what it must cause."""

    kind: str
    system: str
    target: str
    path: str                   # the target's URL path (the fault's endpoint prefix too)
    start_min: float            # scripted minutes after the drill starts
    duration_min: float
    rule: str                   # the rule expected to fire for the target
    reason: str | None          # the probe failure reason expected (None: probes stay ok)
    params: dict[str, Any] = field(default_factory=dict)
    target_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str | None:
        """The fault's path prefix; an outage closes the whole system's socket."""
        return None if self.kind == "outage" else self.path.split("?")[0]

    def fault(self, scale: float) -> dict[str, Any]:
        """The POST /faults body for this step at `scale`."""
        body: dict[str, Any] = {"kind": self.kind, "system": self.system,
                                "duration": ms(self.duration_s(scale)),
                                **self.params}
        if self.endpoint is not None:
            body["endpoint"] = self.endpoint
        return body

    def start_s(self, scale: float) -> float:
        return self.start_min * 60 / scale

    def duration_s(self, scale: float) -> float:
        return self.duration_min * 60 / scale


def ms(seconds: float) -> str:
    """A duration as the config and the simulator read it (whole milliseconds)."""
    return f"{round(seconds * 1000)}ms"


def _step(kind: str, system: str, name: str, path: str, start: float, duration: float,
          reason: str | None, **params: Any) -> Step:
    rule = SLOW_RULE if reason is None else DOWN_RULE
    fields = params.pop("target_fields", {})
    return Step(kind, system, f"drill-{system}-{name}", path, start, duration, rule, reason,
                params, fields)


FULL = (
    _step("outage", "documents", "health", "/health", 5, 5, "refused"),
    _step("hang", "portal", "search", "/api/search?q=khai%20sinh", 12, 4, "timeout"),
    _step("error_rate", "payments", "intermediaries", "/api/intermediaries", 18, 5, "status",
          rate=1.0, status=503),
    _step("latency", "portal", "procedures", "/api/procedures", 25, 5, None, ms=600),
    _step("garbage", "portal", "health", "/health", 32, 4, "garbage"),
    _step("oversized", "payments", "health", "/health", 38, 4, "oversized", mb=1,
          target_fields={"max_body_bytes": 65536}),
    _step("slow_drip", "portal", "agencies", "/api/agencies", 45, 4, "timeout",
          chunk_bytes=8, interval_ms=200),
)
FULL_MINUTES = 60.0

REDUCED_KINDS = ("outage", "hang", "error_rate", "latency", "garbage")
REDUCED_MINUTES = 9.0


def drill_script(reduced: bool) -> tuple[tuple[Step, ...], float]:
    """The steps and the scripted length in minutes: the hour, or the CI drill (five kinds,
    overlapping, each on its own target)."""
    if not reduced:
        return FULL, FULL_MINUTES
    steps = [s for s in FULL if s.kind in REDUCED_KINDS]
    return tuple(_replace_times(s, 1 + i, 3) for i, s in enumerate(steps)), REDUCED_MINUTES


def _replace_times(step: Step, start: float, duration: float) -> Step:
    return Step(step.kind, step.system, step.target, step.path, start, duration, step.rule,
                step.reason, step.params, step.target_fields)


NOT_DRILLED: tuple[tuple[str, str], ...] = (
    ("stuck_queue", "not alertable within a drill hour: stalled dossiers only turn overdue "
     "after their deadline (working days of simulated time); the rule that sees it "
     "(766.2.1 kpi_below, window today) needs that backlog"),
    ("stats_mismatch", "not alertable: no rule compares /api/stats totals with the synced "
     "records (the KPI layer reads records, which stay true)"),
    ("national_mismatch", "not alertable: national counts feed 766.1.4 but no rule watches "
     "766.1.4"),
    ("recon_missing/amount/duplicate/late", "recon-breaks-24h sees them only in "
     "T+1 files of past business days with dossiers, transactions and files all synced; "
     "beyond a one-hour drill"),
)
"""Fault kinds of the simulator without an observable alert path in an hour, and why."""


# --- the drill's config directory ------------------------------------------------------------

def targets(steps: tuple[Step, ...], urls: dict[str, str]) -> list[dict[str, Any]]:
    """One HTTP probe per step's target (every target of the full script, so the province
    looks the same at every scale) and the dossier sync."""
    seen: dict[str, dict[str, Any]] = {}
    for step in (*FULL, *steps):
        entry = {"kind": "http", "id": step.target, "system": step.system,
                 "name": f"Diễn tập – {step.target}", "url": urls[step.system] + step.path,
                 "interval": ms(PROBE_INTERVAL_S), "timeout": ms(PROBE_TIMEOUT_S),
                 "jitter": "0s", **step.target_fields}
        if step.path == "/health":
            entry["conditions"] = [{"json_path": "status", "equals": "ok"}]
        seen.setdefault(step.target, entry)
    return [*seen.values(), {
        "kind": "records", "id": DOSSIERS_TARGET, "system": "portal",
        "name": "Diễn tập – đồng bộ hồ sơ", "url": urls["portal"] + "/api/dossiers",
        "record_type": "dossiers", "page_size": 5000, "interval": "5s", "timeout": "4s"}]


def rules() -> list[dict[str, Any]]:
    """A failed last probe of any drill target fires `drill-target-down`; a last probe slower
    than the threshold fires `drill-target-slow` on the targets whose latency is watched (as
    production's portal-submit-slow watches one target; a timed-out probe is slow too, but
    that is the down rule's alert)."""
    common = {"kind": "threshold", "severity": "critical", "aggregate": "last",
              "window": "5s", "interval": ms(RULE_INTERVAL_S)}
    watched = sorted({s.target for s in FULL if s.reason is None})
    return [
        {**common, "id": DOWN_RULE, "name": "Diễn tập: dịch vụ không phản hồi",
         "probe": "success_rate", "op": "<", "value": 1,
         "selector": {"labels": {"drill": "yes"}},
         "annotations": {"summary": "{{ labels.target }} không phản hồi"}},
        {**common, "id": SLOW_RULE, "name": "Diễn tập: dịch vụ phản hồi chậm",
         "probe": "latency_ms", "op": ">", "value": LATENCY_THRESHOLD_MS,
         "selector": {"targets": watched},
         "annotations": {"summary": "{{ labels.target }} chậm: {{ value | round | int }} ms"}},
    ]


def sections(steps: tuple[Step, ...], urls: dict[str, str], hook_url: str,
             public_url: str) -> dict[str, Any]:
    """Every config section of the drill province."""
    probes = targets(steps, urls)
    for t in probes:
        if t["kind"] == "http":
            t["labels"] = {"drill": "yes"}
    return {
        "province": {"name": "Tỉnh Diễn Tập", "code": "D99", "public_url": public_url},
        "targets": probes,
        "rules": rules(),
        "channels": [{"name": WEBHOOK, "kind": "webhook", "url": hook_url,
                      "hmac_secret": HOOK_SECRET}],
        "routing": {"channels": [WEBHOOK], "group_by": ["rule", "target"], "group_wait": "0s",
                    "group_interval": "1s", "repeat_interval": "1h", "send_resolved": True},
    }


def write_config(directory: Path, config: dict[str, Any]) -> Path:
    """The config directory as the processes read it: one YAML (JSON) file per section."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in config.items():
        (directory / f"{name}.yaml").write_text(json.dumps({name: data}, ensure_ascii=False),
                                                encoding="utf-8")
    return directory
