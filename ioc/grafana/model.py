"""A small builder for Grafana dashboard JSON: panels placed in rows on the 24-column grid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

DATASOURCE_UID = "ioc-timescaledb"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
FOLDER_UID = "ioc"
FOLDER_TITLE = "IOC"
SCHEMA_VERSION = 41
GRID_COLUMNS = 24
# Grid rows that fit a 1920x1080 kiosk screen without scrolling (30 px rows, 8 px gaps).
SCREEN_ROWS = 27

GREY = "#6e7079"
GREEN = "green"
YELLOW = "#f2cc0c"
RED = "red"
NO_DATA_VI = "KHÔNG CÓ DỮ LIỆU"

Json = dict[str, Any]
Format = Literal["time_series", "table"]


@dataclass(frozen=True)
class Query:
    """One SQL query of a panel; `format` is how Grafana reads its result."""

    sql: str
    format: Format = "time_series"


@dataclass(frozen=True)
class Panel:
    """A panel before placement: its type, title, queries, width and Grafana options."""

    type: str
    title: str
    queries: tuple[Query, ...]
    width: int
    defaults: Json = field(default_factory=dict)
    options: Json = field(default_factory=dict)
    overrides: tuple[Json, ...] = ()
    description: str = ""
    max_points: int | None = None  # Grafana's maxDataPoints: bounds the steps of a chart


@dataclass(frozen=True)
class Row:
    """Panels side by side, all `height` grid rows tall."""

    height: int
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A custom template variable (options fixed at generation time from the config)."""

    name: str
    label: str
    options: tuple[tuple[str, str], ...]  # (text, value)
    multi: bool = True
    include_all: bool = True


@dataclass(frozen=True)
class Annotation:
    """Annotations from SQL: columns time, timeend (optional), text, tags."""

    name: str
    sql: str
    color: str = RED


@dataclass(frozen=True)
class Dashboard:
    """A wall screen: one dashboard, one screen, dark, refreshing."""

    uid: str
    title: str
    tags: tuple[str, ...]
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    time_from: str = "now-6h"
    refresh: str = "30s"
    description: str = ""


# --- field configuration helpers ---------------------------------------------------------------

def thresholds(*steps: tuple[float | None, str]) -> Json:
    """Absolute thresholds; the first step's value must be None (the base colour)."""
    return {"mode": "absolute",
            "steps": [{"color": color, "value": value} for value, color in steps]}


def value_mappings(values: dict[int, tuple[str, str]], no_data: str = NO_DATA_VI) -> list[Json]:
    """Value -> (text, colour) mappings plus NULL -> grey "no data" (never green)."""
    options = {str(v): {"text": text, "color": color, "index": i}
               for i, (v, (text, color)) in enumerate(sorted(values.items()))}
    return [
        {"type": "value", "options": options},
        {"type": "special", "options": {"match": "null", "result":
                                        {"text": no_data, "color": GREY, "index": len(values)}}},
    ]


def field_defaults(unit: str = "short", *, steps: Json | None = None,
                   mappings: Sequence[Json] = (), decimals: int | None = None,
                   minimum: float | None = None, maximum: float | None = None,
                   extra: Json | None = None) -> Json:
    """fieldConfig.defaults with a grey "no data" text and the given thresholds."""
    out: Json = {
        "unit": unit,
        "noValue": NO_DATA_VI,
        "color": {"mode": "thresholds"},
        "thresholds": steps or thresholds((None, GREEN)),
        "mappings": list(mappings),
    }
    for key, value in (("decimals", decimals), ("min", minimum), ("max", maximum)):
        if value is not None:
            out[key] = value
    out.update(extra or {})
    return out


# --- rendering ---------------------------------------------------------------------------------

def _panel_json(panel: Panel, pid: int, x: int, y: int, height: int) -> Json:
    refs = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out: Json = {
        "id": pid,
        "type": panel.type,
        "title": panel.title,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": height},
        "datasource": dict(DATASOURCE),
        "targets": [
            {"refId": refs[i], "datasource": dict(DATASOURCE), "rawSql": q.sql.strip(),
             "format": q.format, "rawQuery": True, "editorMode": "code"}
            for i, q in enumerate(panel.queries)
        ],
        "fieldConfig": {"defaults": panel.defaults, "overrides": list(panel.overrides)},
        "options": panel.options,
    }
    if panel.description:
        out["description"] = panel.description
    if panel.max_points:
        out["maxDataPoints"] = panel.max_points
    if not panel.queries:
        del out["datasource"], out["targets"]
    return out


def layout(rows: Sequence[Row]) -> list[Json]:
    """Place rows top to bottom, panels left to right; ids follow reading order from 1."""
    panels: list[Json] = []
    y = 0
    for row in rows:
        x = 0
        for panel in row.panels:
            panels.append(_panel_json(panel, len(panels) + 1, x, y, row.height))
            x += panel.width
        if x > GRID_COLUMNS:
            raise ValueError(f"row at y={y} is {x} columns wide (the grid has {GRID_COLUMNS})")
        y += row.height
    return panels


def _escape(text: str) -> str:
    return text.replace(",", "\\,")


def _variable_json(var: Variable) -> Json:
    options = [{"text": text, "value": value, "selected": var.include_all is False}
               for text, value in var.options]
    if var.include_all:
        current: Json = {"text": ["All"], "value": ["$__all"]}
        options.insert(0, {"text": "All", "value": "$__all", "selected": True})
    else:
        current = {"text": [t for t, _ in var.options], "value": [v for _, v in var.options]}
    return {
        "type": "custom", "name": var.name, "label": var.label,
        "query": ",".join(f"{_escape(text)} : {_escape(value)}" for text, value in var.options),
        "multi": var.multi, "includeAll": var.include_all, "current": current,
        "options": options, "hide": 0,
    }


def _annotation_json(ann: Annotation) -> Json:
    return {
        "name": ann.name, "enable": True, "hide": False, "iconColor": ann.color,
        "datasource": dict(DATASOURCE),
        "target": {"refId": "Anno", "rawSql": ann.sql.strip(), "format": "table",
                   "rawQuery": True, "editorMode": "code"},
    }


_BUILT_IN_ANNOTATION: Json = {
    "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
    "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
    "type": "dashboard",
}


def render(dash: Dashboard) -> Json:
    """The dashboard as Grafana's JSON model (what provisioning files and the API take)."""
    return {
        "uid": dash.uid,
        "title": dash.title,
        "description": dash.description,
        "tags": list(dash.tags),
        "editable": False,
        "graphTooltip": 1,
        "liveNow": False,
        "schemaVersion": SCHEMA_VERSION,
        "style": "dark",
        "timezone": "browser",
        "time": {"from": dash.time_from, "to": "now"},
        "timepicker": {"refresh_intervals": ["30s", "1m", "5m", "15m"]},
        "refresh": dash.refresh,
        "templating": {"list": [_variable_json(v) for v in dash.variables]},
        "annotations": {"list": [_BUILT_IN_ANNOTATION]
                        + [_annotation_json(a) for a in dash.annotations]},
        "links": [],
        "panels": layout(dash.rows),
        "version": 1,
    }
