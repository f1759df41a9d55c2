"""With no data at all, every query still runs, and the wall shows grey or red, never green."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ioc.grafana.model import GREY, NO_DATA_VI

from .harness import context, load_dashboards, panel_result, queries, run
from .macros import expand
from .seed import NOW

DASHBOARDS = load_dashboards()
QUERIES = [q for model in DASHBOARDS.values() for q in queries(model)]
LIGHTS = [p["title"] for p in DASHBOARDS["ioc-wall"]["panels"][:3]]


@pytest.fixture(scope="module")
def empty(make_db: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(make_db()) as conn:
        yield conn


def test_every_query_runs_on_an_empty_database(empty: psycopg.Connection) -> None:
    failures = []
    for q in QUERIES:
        try:
            run(empty, expand(q.raw_sql, context(DASHBOARDS[q.dashboard], q, NOW,
                                                   timedelta(hours=6))))
        except psycopg.Error as exc:
            failures.append(f"{q.id}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("title", LIGHTS)
def test_traffic_light_without_data_is_unknown_not_up(empty: psycopg.Connection,
                                                      title: str) -> None:
    rows = panel_result(empty, DASHBOARDS["ioc-wall"], title, NOW, timedelta(hours=6)).rows
    assert rows == [(None,)]


def test_freshness_without_data_is_stale(empty: psycopg.Connection) -> None:
    rows = panel_result(empty, DASHBOARDS["ioc-wall"], "Độ mới dữ liệu", NOW,
                        timedelta(hours=6)).rows
    assert rows == [(86400.0,)]
    (panel,) = [p for p in DASHBOARDS["ioc-wall"]["panels"] if p["title"] == "Độ mới dữ liệu"]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["color"] == "red" and steps[-1]["value"] < 86400


def _null_mapping(panel: dict[str, Any]) -> dict[str, Any]:
    specials = [m for m in panel["fieldConfig"]["defaults"]["mappings"]
                if m["type"] == "special" and m["options"]["match"] == "null"]
    assert specials, panel["title"]
    result: dict[str, Any] = specials[0]["options"]["result"]
    return result


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_stat_tiles_show_grey_no_data(uid: str) -> None:
    for panel in DASHBOARDS[uid]["panels"]:
        if panel["type"] != "stat":
            continue
        assert panel["fieldConfig"]["defaults"]["noValue"] == NO_DATA_VI, panel["title"]
        null = _null_mapping(panel)
        assert (null["text"], null["color"]) == (NO_DATA_VI, GREY), panel["title"]
        assert panel["options"]["colorMode"] == "background"


def test_traffic_lights_map_down_up_and_degraded() -> None:
    for title in LIGHTS:
        (panel,) = [p for p in DASHBOARDS["ioc-wall"]["panels"] if p["title"] == title]
        (values,) = [m["options"] for m in panel["fieldConfig"]["defaults"]["mappings"]
                     if m["type"] == "value"]
        assert {k: v["color"] for k, v in values.items()} == {"0": "red", "1": "green",
                                                              "2": "#f2cc0c"}
        # no threshold colour can make an unmapped value look healthy
        assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
            {"color": GREY, "value": None}]
