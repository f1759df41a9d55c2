"""Behaviour the rest of the IOC relies on: routing, on-call, maintenance, conditions, docs."""

from __future__ import annotations

import typing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from ioc.config import (
    BodyRegex,
    HttpTarget,
    JsonPathCondition,
    Matcher,
    ProvinceConfig,
    RecurringWindow,
    ResponseTimeBelow,
    Route,
    load_config,
)
from ioc.config.reference import render

EXAMPLE = Path(__file__).parent.parent.parent / "config"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def example() -> ProvinceConfig:
    return load_config(EXAMPLE, env={})


def test_critical_alert_routes_to_oncall_and_to_the_forward(example: ProvinceConfig) -> None:
    routes = example.routing.match({"severity": "critical", "system": "portal"})
    assert [r.channels for r in routes] == [
        ("central-alertmanager",), ("oncall-telegram", "oncall-email", "ops-webhook")]
    critical = routes[1]
    assert critical.escalation == "default"
    assert critical.group_wait == timedelta(seconds=10)  # its own
    assert critical.group_interval == timedelta(minutes=5)  # inherited from the root
    assert critical.group_by == ("rule", "system")


def test_unmatched_alert_goes_to_the_root_channels(example: ProvinceConfig) -> None:
    routing = example.routing.model_copy(update={"routes": example.routing.routes[1:]})
    assert [r.channels for r in routing.match({"severity": "info"})] == [("ops-webhook",)]


def test_payments_team_route(example: ProvinceConfig) -> None:
    routes = example.routing.match({"severity": "warning", "team": "payments"})
    assert routes[-1].channels == ("payments-team-email", "ops-webhook")
    assert routes[-1].repeat_interval == timedelta(hours=12)
    assert routes[-1].escalation is None


@pytest.mark.parametrize(("text", "labels", "matches"), [
    ('severity="critical"', {"severity": "critical"}, True),
    ("severity=critical", {"severity": "warning"}, False),
    ('system!="portal"', {}, True),
    ('system=~"portal|payments"', {"system": "payments"}, True),
    ('system=~"port"', {"system": "portal"}, False),  # anchored, as in Alertmanager
    ('system!~"doc.*"', {"system": "documents"}, False),
])
def test_matcher_text_forms(text: str, labels: dict[str, str], matches: bool) -> None:
    assert Matcher.model_validate(text).matches(labels) is matches


def test_weekly_rota_hands_off_on_monday_morning_local_time(example: ProvinceConfig) -> None:
    oncall = example.oncall
    # 2025-01-06 is a Monday: An's first week starts at 08:00 local (01:00 UTC).
    first = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)
    assert oncall.on_call("primary", first, HCM).id == "an-nv"
    assert oncall.on_call("primary", first - timedelta(minutes=1), HCM).id == "duc-pm"
    assert oncall.on_call("primary", first + timedelta(weeks=1), HCM).id == "binh-tt"
    assert oncall.on_call("primary", first + timedelta(weeks=6), HCM).id == "cuong-lh"
    assert oncall.on_call("secondary", first + timedelta(weeks=3), HCM).id == "huy-dq"


def test_override_takes_precedence_over_the_rota(example: ProvinceConfig) -> None:
    during = datetime(2026, 12, 23, 3, 0, tzinfo=UTC)
    assert example.oncall.rotations[0].scheduled(during, HCM) == "cuong-lh"
    assert example.oncall.on_call("primary", during, HCM).id == "binh-tt"
    after = datetime(2026, 12, 28, 1, 0, tzinfo=UTC)  # 08:00 local: the override has ended
    assert example.oncall.on_call("primary", after, HCM).id == "duc-pm"


def test_recurring_window_crosses_midnight_in_local_time(example: ProvinceConfig) -> None:
    window = next(m for m in example.maintenance if m.id == "documents-weekly-patch")
    assert isinstance(window, RecurringWindow)
    # Saturday 2025-03-15 22:00 local = 15:00 UTC; ends Sunday 01:00 local = 18:00 UTC.
    found = window.occurrences(datetime(2025, 3, 15, tzinfo=UTC),
                               datetime(2025, 3, 17, tzinfo=UTC), HCM)
    assert found == [(datetime(2025, 3, 15, 15, tzinfo=UTC), datetime(2025, 3, 15, 18, tzinfo=UTC))]


def test_one_off_window_occurs_once(example: ProvinceConfig) -> None:
    window = next(m for m in example.maintenance if m.id == "payments-gateway-upgrade")
    found = window.occurrences(datetime(2026, 12, 1, tzinfo=UTC),
                               datetime(2027, 1, 1, tzinfo=UTC), HCM)
    assert found == [
        (datetime(2026, 12, 19, 14, tzinfo=UTC), datetime(2026, 12, 19, 18, tzinfo=UTC))]
    assert window.exclude_from_sla


def test_conditions_check_responses() -> None:
    assert BodyRegex(body_regex=r"Thủ tục \d+").check("… Thủ tục 12 …")
    equals = JsonPathCondition(json_path="status", equals="ok")
    assert equals.check({"status": "ok"}) and not equals.check({"status": "down"})
    exists = JsonPathCondition(json_path="items[0]", exists=True)
    assert exists.check({"items": [1]}) and not exists.check({"items": []})
    assert ResponseTimeBelow.model_validate({"response_time_below": "2s"}).check(
        timedelta(milliseconds=1999))


def test_expected_status_forms() -> None:
    target = HttpTarget.model_validate({
        "kind": "http", "id": "x", "system": "portal", "name": "X", "url": "http://a/",
        "expected_status": [201, "4xx", "300-302"]})
    assert [target.status_ok(s) for s in (201, 200, 404, 301, 303, 500)] == [
        True, False, True, True, False, False]


def test_calendar_and_report_schedule(example: ProvinceConfig) -> None:
    assert example.calendar.days_off == (date(2025, 5, 2),)
    assert example.calendar.working_days == (date(2025, 4, 26),)
    assert example.report is not None and example.report.due_on(date(2025, 3, 17))
    assert example.province.tz == HCM


def _models(tp: typing.Any, seen: set[type[BaseModel]]) -> None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return
        seen.add(tp)
        for info in tp.model_fields.values():
            _models(info.annotation, seen)
        return
    for arg in typing.get_args(tp):
        _models(arg, seen)


def test_every_field_of_every_model_is_documented() -> None:
    seen: set[type[BaseModel]] = set()
    _models(ProvinceConfig, seen)
    assert Route in seen and len(seen) > 30
    undocumented = [f"{m.__name__}.{name}" for m in seen
                    for name, info in m.model_fields.items() if not info.description]
    assert undocumented == []
    assert [m.__name__ for m in seen if not m.__doc__] == []


def test_reference_document_is_up_to_date() -> None:
    reference = (EXAMPLE / "REFERENCE.md").read_text(encoding="utf-8")
    assert reference == render() + "\n", "run: ioc config reference > config/REFERENCE.md"
    assert "| `timeout` | duration | `10s` |" in reference
    assert "| `availability` | percentage | `99.5%` |" in reference
