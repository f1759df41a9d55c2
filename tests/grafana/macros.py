"""Grafana's expansion of a PostgreSQL panel query, reproduced exactly (see shared/GRAFANA.md).

Two steps, as in Grafana: the browser substitutes template variables and the built-ins
(`$__interval`, `$__interval_ms`, `${__from}`, `${__to}`); the server replaces the interval
and epoch placeholders again, then expands the `$__macro(args)` calls for a data source with
`timescaledb: true`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


class MacroError(ValueError):
    """A macro Grafana would refuse (unknown name, missing argument, bad interval)."""


@dataclass(frozen=True)
class Variable:
    """A template variable's current value(s) and whether it is multi-value or has "All"."""

    values: tuple[str, ...]
    multi: bool = False
    include_all: bool = False


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it runs a panel: the time range, the interval, the variables."""

    from_at: datetime
    to_at: datetime
    interval: timedelta
    variables: Mapping[str, Variable] = field(default_factory=dict)


# --- durations ---------------------------------------------------------------------------------

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DAYS = re.compile(r"^(\d+)([dwMy])$")


def parse_interval(text: str) -> timedelta:
    """Grafana's gtime.ParseInterval: `5m`, `1h30m`, `300ms`, `2d`, `1w` (Go durations + d/w)."""
    m = _DAYS.match(text)
    if m:
        if m.group(2) in "My":
            raise MacroError(f"interval {text!r}: months and years depend on the calendar")
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        return timedelta(days=days)
    pos, seconds = 0, 0.0
    for part in _GO_PART.finditer(text):
        if part.start() != pos:
            break
        seconds += float(part.group(1)) * _GO_UNITS[part.group(2)]
        pos = part.end()
    if not text or pos != len(text):
        raise MacroError(f"error parsing interval {text!r}")
    return timedelta(seconds=seconds)


def format_interval(interval: timedelta) -> str:
    """Grafana's gtime.FormatInterval: the largest whole unit, truncated (90s becomes `1m`)."""
    ms = interval // timedelta(milliseconds=1)
    for unit, size in (("y", 31_536_000_000), ("d", 86_400_000), ("h", 3_600_000),
                       ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


_ROUNDING = (  # Grafana's rangeutil.roundInterval: (below this many ms, use this interval)
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
    (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000),
    (1050000, 900000), (1500000, 1200000), (2700000, 1800000), (5400000, 3600000),
    (9000000, 7200000), (16200000, 10800000), (32400000, 21600000), (86400000, 43200000),
    (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
)


def calculate_interval(span: timedelta, max_data_points: int, low_limit: timedelta) -> timedelta:
    """Grafana's rangeutil.calculateInterval: span ÷ points rounded to a nice value, never
    below the low limit (the panel's min interval, else the data source's timeInterval)."""
    raw = span / timedelta(milliseconds=1) / max_data_points
    ms = next((nice for below, nice in _ROUNDING if raw < below), 31536000000)
    return max(timedelta(milliseconds=ms), low_limit)


def rfc3339(at: datetime) -> str:
    """Go's RFC3339Nano in UTC: fractional seconds keep only their significant digits."""
    at = at.astimezone(UTC)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += "." + f"{at.microsecond:06d}".rstrip("0")
    return text + "Z"


def _go_number(value: float) -> str:
    """Go's %v for a float64 (300 not 300.0; 0.5 stays 0.5)."""
    return str(int(value)) if value.is_integer() else repr(value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_ms(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(milliseconds=1)


def _epoch_s(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(seconds=1)


# --- step 1: the browser (template variables and built-ins) ------------------------------------

_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format_variable(var: Variable, fmt: str | None) -> str:
    if fmt == "sqlstring":
        return ",".join(_quote(v) for v in var.values)
    if fmt == "csv":
        return ",".join(var.values)
    if fmt == "raw":
        return ",".join(var.values)
    if fmt is not None:
        raise MacroError(f"variable format {fmt!r} is not reproduced here; use sqlstring or csv")
    # the PostgreSQL data source's own interpolation when no format is given
    if var.multi or var.include_all or len(var.values) != 1:
        return ",".join(_quote(v) for v in var.values)
    return var.values[0].replace("'", "''")


def substitute_variables(sql: str, ctx: QueryContext) -> str:
    """Replace template variables and the browser's built-ins; unknown names stay as written."""
    builtins = {
        "__interval": format_interval(ctx.interval),
        "__interval_ms": str(ctx.interval // timedelta(milliseconds=1)),
        "__from": str(_epoch_ms(ctx.from_at)),
        "__to": str(_epoch_ms(ctx.to_at)),
    }

    def replace(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if name in builtins and fmt is None:
            return builtins[name]
        var = ctx.variables.get(name)
        if var is None:
            return m.group(0)
        return _format_variable(var, fmt)

    return _VARIABLE.sub(replace, sql)


# --- step 2: the server (global placeholders, then macros) -------------------------------------

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")


def interpolate_globals(sql: str, ctx: QueryContext) -> str:
    """sqleng.Interpolate: interval and epoch placeholders, by plain text replacement."""
    sql = sql.replace("$__interval_ms", str(ctx.interval // timedelta(milliseconds=1)))
    sql = sql.replace("$__interval", format_interval(ctx.interval))
    sql = sql.replace("$__unixEpochFrom()", str(_epoch_s(ctx.from_at)))
    return sql.replace("$__unixEpochTo()", str(_epoch_s(ctx.to_at)))


def _need(name: str, args: Sequence[str], count: int, what: str) -> None:
    if len(args) < count or args[0] == "":
        raise MacroError(f"missing {what} for macro {name}")


def _seconds(arg: str) -> float:
    return parse_interval(arg.strip("'")).total_seconds()


def evaluate_macro(name: str, args: Sequence[str], ctx: QueryContext) -> str:
    """The PostgreSQL macro engine with `timescaledb: true`."""
    start, end = rfc3339(ctx.from_at), rfc3339(ctx.to_at)
    col = args[0] if args else ""
    if name in ("__time", "__timeEpoch", "__timeFilter", "__unixEpochFilter"):
        _need(name, args, 1, "time column argument")
    if name in ("__timeGroup", "__timeGroupAlias", "__unixEpochGroup", "__unixEpochGroupAlias"):
        _need(name, args, 2, "time column and interval argument")
    match name:
        case "__time":
            return f'{col} AS "time"'
        case "__timeEpoch":
            return f'extract(epoch from {col}) as "time"'
        case "__timeFilter":
            return f"{col} BETWEEN '{start}' AND '{end}'"
        case "__timeFrom":
            return f"'{start}'"
        case "__timeTo":
            return f"'{end}'"
        case "__timeGroup":
            return f"time_bucket('{_seconds(args[1]):.3f}s',{col})"
        case "__timeGroupAlias":
            return evaluate_macro("__timeGroup", args, ctx) + ' AS "time"'
        case "__unixEpochFilter":
            lo, hi = _epoch_s(ctx.from_at), _epoch_s(ctx.to_at)
            return f"{col} >= {lo} AND {col} <= {hi}"
        case "__unixEpochGroup":
            s = _go_number(_seconds(args[1]))
            return f"floor(({col})/{s})*{s}"
        case "__unixEpochGroupAlias":
            return evaluate_macro("__unixEpochGroup", args, ctx) + ' AS "time"'
    raise MacroError(f"unknown macro {name}")


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """Expand `$__name(args)`; `$__timeGroup(...)` directly followed by ',' adds the alias."""
    original = sql

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "__timeGroup":
            # Grafana looks up the first occurrence of the same text in the query
            at = original.find(m.group(0)) + len(m.group(0))
            if at < len(original) and original[at] == ",":
                name = "__timeGroupAlias"
        args = [a.strip(" ") for a in m.group(2).split(",")]
        return evaluate_macro(name, args, ctx)

    return _MACRO.sub(replace, sql)


def expand(sql: str, ctx: QueryContext) -> str:
    """The SQL PostgreSQL receives for a panel query written `sql`."""
    return expand_macros(interpolate_globals(substitute_variables(sql, ctx), ctx), ctx)


_DOLLAR_QUOTED = re.compile(r"\$(\w*)\$.*?\$\1\$", re.DOTALL)


def leftover_dollars(sql: str) -> list[str]:
    """Pieces of text around each `$` left outside dollar-quoted strings (should be none)."""
    bare = _DOLLAR_QUOTED.sub("", sql)
    return [bare[max(0, i - 20):i + 20] for i, ch in enumerate(bare) if ch == "$"]
