"""The harness's macro expander reproduces Grafana's expansion on the examples of GRAFANA.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .macros import (
    MacroError,
    QueryContext,
    Variable,
    calculate_interval,
    expand,
    format_interval,
    leftover_dollars,
    parse_interval,
    rfc3339,
)

FROM = datetime(2026, 11, 18, 1, 0, 0, tzinfo=UTC)
TO = datetime(2026, 11, 18, 7, 0, 0, 500000, tzinfo=UTC)
CTX = QueryContext(FROM, TO, timedelta(seconds=90), {
    "target": Variable(("portal-health", "o'brien"), multi=True, include_all=True),
    "ids": Variable(("1", "2"), multi=True),
    "one": Variable(("it's",)),
})


@pytest.mark.parametrize(("sql", "expected"), [
    ("$__time(c)", 'c AS "time"'),
    ("$__timeEpoch(c)", 'extract(epoch from c) as "time"'),
    ("WHERE $__timeFilter(t.time)",
     "WHERE t.time BETWEEN '2026-11-18T01:00:00Z' AND '2026-11-18T07:00:00.5Z'"),
    ("$__timeFrom() / $__timeTo()", "'2026-11-18T01:00:00Z' / '2026-11-18T07:00:00.5Z'"),
    ("GROUP BY $__timeGroup(c, '5m')", "GROUP BY time_bucket('300.000s',c)"),
    ("SELECT $__timeGroup(c, '5m'), x", "SELECT time_bucket('300.000s',c) AS \"time\", x"),
    ("SELECT $__timeGroupAlias(c,'1h')", "SELECT time_bucket('3600.000s',c) AS \"time\""),
    ("$__timeGroup(c, '5m', NULL)", "time_bucket('300.000s',c)"),
    ("$__timeGroup(c, 500ms)", "time_bucket('0.500s',c)"),
    ("$__timeGroup(c, $__interval)", "time_bucket('60.000s',c)"),
    ("$__timeGroup(c, '1d')", "time_bucket('86400.000s',c)"),
    ("$__unixEpochFilter(e)", "e >= 1794963600 AND e <= 1794985200"),
    ("$__unixEpochGroup(e, '5m')", "floor((e)/300)*300"),
    ("$__unixEpochFrom()-$__unixEpochTo()", "1794963600-1794985200"),
    ("'$__interval' $__interval_ms", "'1m' 90000"),
    ("${__from} ${__to}", "1794963600000 1794985200500"),
    ("IN (${target:sqlstring})", "IN ('portal-health','o''brien')"),
    ("IN ($target)", "IN ('portal-health','o''brien')"),
    ("IN (${ids:csv})", "IN (1,2)"),
    ("'$one'", "'it''s'"),
    ("[[ids:csv]]", "1,2"),
    ("$unknown stays", "$unknown stays"),
], ids=lambda v: v if isinstance(v, str) and v.startswith(("$", "[", "'")) else None)
def test_expand_matches_grafana(sql: str, expected: str) -> None:
    assert expand(sql, CTX) == expected


def test_time_group_alias_is_decided_by_the_first_occurrence() -> None:
    # Grafana finds the first occurrence of the same text: both become aliased here
    sql = "SELECT $__timeGroup(c, '5m'), n GROUP BY $__timeGroup(c, '5m')"
    assert expand(sql, CTX).count('AS "time"') == 2


@pytest.mark.parametrize(("interval", "text"), [
    (timedelta(seconds=90), "1m"), (timedelta(seconds=59), "59s"), (timedelta(hours=25), "1d"),
    (timedelta(milliseconds=500), "500ms"), (timedelta(minutes=150), "2h"),
    (timedelta(days=400), "1y"), (timedelta(0), "1ms"),
])
def test_interval_text_is_the_largest_whole_unit(interval: timedelta, text: str) -> None:
    assert format_interval(interval) == text


@pytest.mark.parametrize(("text", "seconds"), [
    ("5m", 300), ("1h30m", 5400), ("1.5s", 1.5), ("2d", 172800), ("1w", 604800),
    ("300ms", 0.3),
])
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text).total_seconds() == seconds


@pytest.mark.parametrize("sql", ["$__timeGroup(c)", "$__time()", "$__nope(c)",
                                 "$__timeGroup(c, '1M')", "$__timeGroup(c, 'soon')"])
def test_grafana_refuses(sql: str) -> None:
    with pytest.raises(MacroError):
        expand(sql, CTX)


@pytest.mark.parametrize(("at", "text"), [
    (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05Z"),
    (datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "2026-01-02T03:04:05.12Z"),
    (datetime(2026, 1, 2, 10, 4, 5, 1, tzinfo=UTC) + timedelta(hours=0),
     "2026-01-02T10:04:05.000001Z"),
])
def test_rfc3339_keeps_significant_fraction_digits(at: datetime, text: str) -> None:
    assert rfc3339(at) == text


def test_leftover_dollars_ignores_dollar_quoted_strings() -> None:
    assert leftover_dollars("SELECT $$a $b$$, $tag$x$tag$") == []
    assert leftover_dollars("SELECT ${__from:date}") != []


@pytest.mark.parametrize(("span", "points", "low", "expected"), [
    (timedelta(hours=6), 1000, timedelta(minutes=1), timedelta(minutes=1)),     # 21.6s -> 20s
    (timedelta(hours=6), 60, timedelta(minutes=1), timedelta(minutes=5)),       # 360s -> 5m
    (timedelta(days=7), 60, timedelta(minutes=1), timedelta(hours=3)),          # 10080s -> 3h
    (timedelta(hours=1), 1000, timedelta(seconds=1), timedelta(seconds=5)),     # 3.6s -> 5s
    (timedelta(days=28), 640, timedelta(minutes=1), timedelta(hours=1)),        # 3780s -> 1h
])
def test_interval_follows_grafana_rounding(span: timedelta, points: int, low: timedelta,
                                           expected: timedelta) -> None:
    assert calculate_interval(span, points, low) == expected
