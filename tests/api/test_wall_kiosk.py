"""The wall as a kiosk shows it early in the morning, in Chromium at 1920×1080: a count of 0
is "0", a rate with nothing to divide is "—", every figure fits its card, and the clock shows
the province's time on a kiosk set to another time zone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import websockets

from ioc.api.browser import Chromium
from ioc.config.model import ProvinceConfig

from .conftest import make_tokens
from .seed import add_probe, add_target
from .server import ApiServer

KIOSK_TZ = "America/New_York"
PROVINCE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Each figure in a system card, the card's name and state: none may spill out of its card.
# Inside means within the card's content box (its border and padding are the card's margin).
OVERFLOWS = """[...document.querySelectorAll('.system')].flatMap(card => {
  const box = card.getBoundingClientRect(), css = getComputedStyle(card);
  const left = box.left + parseFloat(css.borderLeftWidth) + parseFloat(css.paddingLeft);
  const right = box.right - parseFloat(css.borderRightWidth) - parseFloat(css.paddingRight);
  return [...card.querySelectorAll('.name, .state, .figures dt, .figures dd')]
    .filter(el => { const r = el.getBoundingClientRect();
                    return el.scrollWidth > el.clientWidth || r.left < left - 0.5
                           || r.right > right + 0.5; })
    .map(el => card.dataset.system + ': ' + el.textContent); })"""
KVALUE = "document.querySelector('.kpi[data-kpi=\"{}\"] .kvalue')?.textContent"


@pytest.fixture(scope="module")
def kiosk(make_db: Callable[[], str], province: ProvinceConfig
          ) -> Iterator[tuple[ApiServer, Chromium]]:
    """A province with no dossiers or payments yet today; the portal probed 100 s ago (its
    interval is 2 minutes, so that is fresh and its age reads "100 giây trước", the longest
    kind of label), the other systems just now; a kiosk in New York."""
    url = make_db()
    tokens = make_tokens(url)
    now = datetime.now(UTC)
    add_target(url, "portal-home", "portal", interval_s=120)
    add_probe(url, "portal-home", now - timedelta(seconds=100), True, 12_345.0)
    for system in ("payments", "documents"):
        add_target(url, f"{system}-home", system, interval_s=60)
        add_probe(url, f"{system}-home", now, True, 85.0)
    server = ApiServer(url, heartbeat_s=1.0, refresh_s=0.5, config=lambda: province).start()
    try:
        with Chromium(1920, 1080, env={"TZ": KIOSK_TZ}) as browser:
            browser.open(f"{server.url}/wall#token={tokens.viewer}")
            browser.wait_for("document.querySelector('#conn').dataset.state === 'live'")
            browser.wait_for(KVALUE.format("dossiers.received"))
            yield server, browser
    finally:
        server.stop()


def test_a_count_of_zero_is_zero_and_a_rate_without_denominator_a_dash(
        kiosk: tuple[ApiServer, Chromium]) -> None:
    _, browser = kiosk
    assert browser.evaluate(KVALUE.format("dossiers.received")) == "0"
    for rate in ("766.2.1", "payments.success_rate"):
        assert browser.evaluate(KVALUE.format(rate)) == "—", rate
    assert "Không có dữ liệu" not in browser.evaluate(
        "document.querySelector('#kpis').textContent")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_figure_fits_its_card_at_1920x1080(kiosk: tuple[ApiServer, Chromium],
                                                 lang: str) -> None:
    server, browser = kiosk
    browser.open(f"{server.url}/wall?lang={lang}")  # the token is remembered
    age = browser.wait_for("(t => /^1\\d\\d( giây trước|s ago)$/.test(t) && t)(document."
                           "querySelector('.system[data-system=\"portal\"] .freshness')"
                           ".textContent)")
    assert age  # "1xx giây trước": the widest age the card shows
    assert browser.evaluate("window.innerWidth") == 1920
    assert browser.evaluate(OVERFLOWS) == []


def test_the_clock_shows_the_province_time_on_a_kiosk_elsewhere(
        kiosk: tuple[ApiServer, Chromium]) -> None:
    _, browser = kiosk
    assert browser.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == KIOSK_TZ
    before = datetime.now(PROVINCE_TZ)
    browser.wait_for("/^\\d\\d:\\d\\d:\\d\\d$/.test(document.querySelector('#clock')"
                     ".textContent)")
    shown = browser.evaluate("document.querySelector('#clock').textContent")
    after = datetime.now(PROVINCE_TZ)
    # Minutes (not seconds): the page ticks once a second; a minute may turn meanwhile.
    assert shown[:5] in {before.strftime("%H:%M"), after.strftime("%H:%M")}, shown
    kiosk_time = datetime.now(ZoneInfo(KIOSK_TZ)).strftime("%H:%M")
    assert shown[:5] != kiosk_time  # 11 or 12 hours apart, whatever the date


def test_the_snapshot_names_the_configured_province_time_zone(
        make_db: Callable[[], str], province: ProvinceConfig) -> None:
    url = make_db()
    viewer = make_tokens(url).viewer
    elsewhere = province.model_copy(update={
        "province": province.province.model_copy(update={"timezone": "Asia/Tokyo"})})
    server = ApiServer(url, config=lambda: elsewhere).start()
    try:
        snapshot = asyncio.run(_first_message(f"{server.ws_url}?token={viewer}"))
    finally:
        server.stop()
    assert snapshot["type"] == "snapshot"
    assert snapshot["timezone"] == "Asia/Tokyo"


async def _first_message(url: str) -> dict[str, Any]:
    async with asyncio.timeout(30), websockets.connect(url) as ws:
        message: dict[str, Any] = json.loads(await ws.recv())
        return message

