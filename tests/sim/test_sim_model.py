"""The province model: deterministic for a seed, volumes as configured, working-day deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import aiohttp
import holidays
import pytest

from sim import Province, SimClock, Volumes, run_province
from sim.calendar import VN_TZ
from tests.sim.helpers import all_records, get_json, options, z

T0 = datetime(2025, 3, 12, 3, 0, tzinfo=UTC)


def _fingerprint(p: Province) -> list[tuple[object, ...]]:
    return [(d.code, d.status, d.received_at, d.due_at, d.finished_at, d.paid_online)
            for d in p.dossiers] + [(t.ref, t.status, t.created_at) for t in p.transactions] + [
        (d.id, d.direction, d.handled_at) for d in p.documents]


def test_same_seed_gives_the_same_province_however_it_is_advanced() -> None:
    volumes = Volumes(dossiers_per_day=800, documents_per_day=600)
    one = Province(3, T0 - timedelta(days=2), volumes)
    one.advance(T0)
    steps = Province(3, T0 - timedelta(days=2), volumes)
    at = steps.now
    while at < T0:
        at = min(T0, at + timedelta(minutes=37))
        steps.advance(at)
    other_seed = Province(4, T0 - timedelta(days=2), volumes)
    other_seed.advance(T0)
    assert len(one.dossiers) > 1000
    assert _fingerprint(one) == _fingerprint(steps)
    assert _fingerprint(one) != _fingerprint(other_seed)


def test_clock_runs_at_speed_and_only_forward() -> None:
    wall = [100.0]
    clock = SimClock(T0, speed=60, wall=lambda: wall[0])
    wall[0] += 2
    assert clock.now() == T0 + timedelta(minutes=2)
    clock.set_speed(0)
    wall[0] += 50
    assert clock.now() == T0 + timedelta(minutes=2)
    clock.advance(timedelta(hours=1))
    assert clock.now() == T0 + timedelta(hours=1, minutes=2)
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(timedelta(seconds=-1))


async def test_volumes_over_a_simulated_week_are_within_ten_percent_of_configuration() -> None:
    volumes = Volumes(dossiers_per_day=1200, documents_per_day=1000, online_payment_share=0.3)
    # The week of 10-16 March 2025 (no holiday), seen 3 days later so every payment is done.
    week_start = datetime(2025, 3, 10, tzinfo=VN_TZ)
    week_end = week_start + timedelta(days=7)
    opts = options(volumes=volumes, start_at=week_end + timedelta(days=3), backfill_days=10)
    async with run_province(opts) as province, aiohttp.ClientSession() as http:
        window = {"from": z(week_start), "to": z(week_end)}
        portal = await get_json(http, province.urls["portal"] + "/api/stats", **window)
        documents = await get_json(http, province.urls["documents"] + "/api/stats", **window)
        province.sync()
        week = province.model.dossiers_between(week_start, week_end)
    expected = 5 * volumes.dossiers_per_day + 2 * volumes.dossiers_per_day * 0.05
    assert abs(portal["received"] - expected) <= 0.1 * expected
    expected_docs = 5 * volumes.documents_per_day + 2 * volumes.documents_per_day * 0.02
    assert abs(documents["total"] - expected_docs) <= 0.1 * expected_docs
    counts = portal["counts"]
    share = counts["paid_online"] / counts["fee_bearing"]
    assert abs(share - 0.3) <= 0.03
    # Morning peak: more dossiers arrive 08:00-11:00 than 14:00-17:00 on working days.
    hours = [d.received_at.astimezone(VN_TZ).hour for d in week]
    assert sum(8 <= h < 11 for h in hours) > 1.2 * sum(14 <= h < 17 for h in hours)


def _independent_working_day(day: date, table: holidays.HolidayBase) -> bool:
    if day in table.weekend_workdays:
        return True
    return day.weekday() < 5 and day not in table


async def test_due_dates_skip_weekends_and_public_holidays() -> None:
    # History from 1 April to 6 May 2025: Hùng Kings (7/4), 30/4, 1/5 and the 2/5 day off.
    opts = options(start_at=datetime(2025, 5, 6, 3, tzinfo=UTC), backfill_days=35,
                   volumes=Volumes(dossiers_per_day=250, documents_per_day=10))
    async with run_province(opts) as province, aiohttp.ClientSession() as http:
        records = await all_records(http, province.urls["portal"] + "/api/dossiers")
        catalogue = await get_json(http, province.urls["portal"] + "/api/procedures")
    deadline = {p["code"]: p["deadline_days"] for p in catalogue["items"]}
    table = holidays.country_holidays("VN", years=[2025])
    checked_over_holiday = 0
    for rec in records:
        received = datetime.fromisoformat(rec["received_at"]).astimezone(VN_TZ).date()
        due_at = datetime.fromisoformat(rec["due_at"]).astimezone(VN_TZ)
        assert (due_at.hour, due_at.minute) == (17, 0)
        assert _independent_working_day(due_at.date(), table), rec
        open_days = [received + timedelta(days=i)
                     for i in range(1, (due_at.date() - received).days + 1)]
        assert sum(_independent_working_day(d, table) for d in open_days) == deadline[
            rec["procedure_code"]], rec
        checked_over_holiday += any(d in table for d in open_days)
    assert len(records) > 5_000
    assert checked_over_holiday > 300
