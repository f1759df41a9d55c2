"""Panel constructors for wall screens: big background-coloured tiles, charts, tables."""

from __future__ import annotations

from collections.abc import Sequence

from ioc.grafana.model import (
    GREEN,
    GREY,
    NO_DATA_VI,
    RED,
    YELLOW,
    Json,
    Panel,
    Query,
    field_defaults,
    thresholds,
    value_mappings,
)

# Traffic lights: the SQL returns 1 (up), 2 (degraded: slow or partly failing), 0 (down) or NULL.
TRAFFIC_LIGHT = value_mappings({
    0: ("NGỪNG HOẠT ĐỘNG", RED),
    1: ("HOẠT ĐỘNG TỐT", GREEN),
    2: ("CHẬM / LỖI MỘT PHẦN", YELLOW),
})

# A rate (fraction 0..1) that should be high: red below `warn`, yellow below `good`.
def rate_steps(warn: float, good: float) -> Json:
    """Thresholds for a fraction that should be high."""
    return thresholds((None, RED), (warn, YELLOW), (good, GREEN))


def count_steps(warn: float, bad: float) -> Json:
    """Thresholds for a count that should be low (breaks, overdue, open alerts)."""
    return thresholds((None, GREEN), (warn, YELLOW), (bad, RED))


def _stat_options(text_mode: str = "value") -> Json:
    return {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background", "graphMode": "none", "justifyMode": "center",
        "orientation": "auto", "textMode": text_mode, "wideLayout": True,
        "showPercentChange": False,
    }


def stat(title: str, sql: str, width: int, *, unit: str = "short", steps: Json | None = None,
         mappings: Sequence[Json] = (), decimals: int | None = None,
         fmt: str = "table", description: str = "") -> Panel:
    """A big tile coloured by its value; NULL or no row shows grey "no data"."""
    return Panel(
        type="stat", title=title, queries=(Query(sql, "table" if fmt == "table"
                                                 else "time_series"),),
        width=width, description=description,
        defaults=field_defaults(unit, steps=steps or thresholds((None, GREY)),
                                mappings=list(mappings) or value_mappings({}),
                                decimals=decimals),
        options=_stat_options("value_and_name" if fmt == "multi" else "value"),
    )


def traffic_light(title: str, sql: str, width: int, description: str = "") -> Panel:
    """A system's state tile: green, yellow, red, or grey when there is no data."""
    return stat(title, sql, width, steps=thresholds((None, GREY)), mappings=TRAFFIC_LIGHT,
                description=description)


def tiles(title: str, sql: str, width: int, *, unit: str, steps: Json,
          decimals: int | None = None) -> Panel:
    """Several tiles from one table query: a text column names each, a numeric one colours it."""
    return Panel(
        type="stat", title=title, queries=(Query(sql, "table"),), width=width,
        defaults=field_defaults(unit, steps=steps, mappings=value_mappings({}),
                                decimals=decimals),
        options={**_stat_options("value_and_name"),
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True}},
    )


def timeseries(title: str, sql: str, width: int, *, unit: str = "short",
               minimum: float | None = None, maximum: float | None = None,
               stacked: bool = False, bars: bool = False, steps: Json | None = None,
               max_points: int | None = None) -> Panel:
    """A chart over the dashboard's time range; one series per `metric` value. `max_points`
    bounds the number of steps (each step of a KPI chart is one call of the KPI layer)."""
    custom: Json = {
        "drawStyle": "bars" if bars else "line", "lineWidth": 2, "fillOpacity": 60 if bars else 10,
        "showPoints": "never", "spanNulls": False, "pointSize": 4,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
        "thresholdsStyle": {"mode": "line" if steps else "off"},
    }
    return Panel(
        type="timeseries", title=title, queries=(Query(sql),), width=width,
        defaults=field_defaults(unit, steps=steps, minimum=minimum, maximum=maximum,
                                extra={"custom": custom, "color": {"mode": "palette-classic"}}),
        options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                 "tooltip": {"mode": "multi", "sort": "desc"}},
        max_points=max_points,
    )


def bargauge(title: str, sql: str, width: int, *, unit: str, steps: Json,
             minimum: float | None = 0, maximum: float | None = None,
             decimals: int | None = None) -> Panel:
    """Horizontal bars, one per row of a table query (label column, value column)."""
    return Panel(
        type="bargauge", title=title, queries=(Query(sql, "table"),), width=width,
        defaults=field_defaults(unit, steps=steps, minimum=minimum, maximum=maximum,
                                decimals=decimals),
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
                 "orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                 "valueMode": "color", "namePlacement": "left", "sizing": "auto"},
    )


def gauge(title: str, sql: str, width: int, *, unit: str, steps: Json,
          minimum: float = 0, maximum: float = 1, decimals: int | None = None) -> Panel:
    """A round gauge of one value per row (e.g. error budget left per system)."""
    return Panel(
        type="gauge", title=title, queries=(Query(sql, "table"),), width=width,
        defaults=field_defaults(unit, steps=steps, minimum=minimum, maximum=maximum,
                                decimals=decimals),
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
                 "showThresholdLabels": False, "showThresholdMarkers": True},
    )


def table(title: str, sql: str, width: int, *, overrides: Sequence[Json] = (),
          unit: str = "short") -> Panel:
    """A plain table; `overrides` set units and colours per column."""
    return Panel(
        type="table", title=title, queries=(Query(sql, "table"),), width=width,
        defaults=field_defaults(unit, extra={"custom": {"align": "auto",
                                                        "cellOptions": {"type": "auto"}}}),
        overrides=tuple(overrides),
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
    )


def state_timeline(title: str, sql: str, width: int, mappings: Sequence[Json]) -> Panel:
    """States over time, one lane per series (alerts, system states)."""
    return Panel(
        type="state-timeline", title=title, queries=(Query(sql),), width=width,
        defaults=field_defaults(steps=thresholds((None, GREY)), mappings=mappings,
                                extra={"custom": {"fillOpacity": 80, "lineWidth": 0}}),
        options={"mergeValues": True, "showValue": "never", "alignValue": "left",
                 "rowHeight": 0.9, "legend": {"displayMode": "list", "placement": "bottom",
                                              "showLegend": True}},
    )


def column(name: str, unit: str, *, steps: Json | None = None, decimals: int | None = None,
           colour_cells: bool = False) -> Json:
    """A table override for one column: unit, thresholds and coloured background."""
    props: list[Json] = [{"id": "unit", "value": unit}]
    if steps is not None:
        props.append({"id": "thresholds", "value": steps})
    if decimals is not None:
        props.append({"id": "decimals", "value": decimals})
    if colour_cells:
        props.append({"id": "custom.cellOptions", "value": {"type": "color-background"}})
    props.append({"id": "noValue", "value": NO_DATA_VI})
    return {"matcher": {"id": "byName", "options": name}, "properties": props}
