"""The wall page in headless Chromium: screenshot, live status changes, escaped labels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ioc import db
from ioc.api.browser import Chromium, png_size

from .conftest import Tokens
from .seed import add_alert, add_probe, add_target
from .server import ApiServer

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
INTERVAL_S = 2.0
STATE = "document.querySelector('.system[data-system=\"{}\"]').dataset.state"
RECON_NAME = "document.querySelector('.kpi[data-kpi=\"recon.match_rate\"] .kname')?.textContent"


@pytest.fixture(scope="module")
def wall(api_db: str, api_tokens: Tokens) -> Iterator[tuple[ApiServer, Chromium]]:
    now = datetime.now(UTC)
    for system in ("portal", "payments"):
        add_target(api_db, f"{system}-home", system, interval_s=INTERVAL_S)
        add_probe(api_db, f"{system}-home", now, True, 85.0)
    # documents: its latest probe is far older than 2 × interval + grace, so no data (grey).
    add_target(api_db, "documents-home", "documents", interval_s=INTERVAL_S)
    add_probe(api_db, "documents-home", now - timedelta(hours=1), True)
    add_alert(api_db, "fp-xss", now, summary=XSS)
    server = ApiServer(api_db, heartbeat_s=1.0, refresh_s=0.5).start()
    with Chromium(1920, 1080) as browser:
        browser.open(f"{server.url}/wall#token={api_tokens.viewer}")
        yield server, browser
    server.stop()


def _keep_fresh(url: str, system: str, ok: bool = True) -> None:
    add_probe(url, f"{system}-home", datetime.now(UTC), ok, notify=True)


def test_wall_shows_systems_live_and_stale_as_grey(wall: tuple[ApiServer, Chromium],
                                                   api_db: str) -> None:
    _, browser = wall
    for system in ("portal", "payments"):
        _keep_fresh(api_db, system)
    browser.wait_for(f"{STATE.format('portal')} === 'up' && {STATE.format('payments')} === 'up'")
    assert browser.evaluate(STATE.format("documents")) == "nodata"
    assert browser.evaluate(
        "document.querySelector('.system[data-system=\"documents\"] .state').textContent"
    ) == "Không có dữ liệu"
    assert browser.evaluate("document.querySelector('#conn').dataset.state") == "live"
    # the reconciliation tile says it covers 7 days (today's transactions await T+1 files)
    assert browser.wait_for(RECON_NAME).endswith("(7 ngày qua)")


def test_wall_screenshot_at_1920x1080(wall: tuple[ApiServer, Chromium], api_db: str,
                                      tmp_path: Path) -> None:
    _, browser = wall
    _keep_fresh(api_db, "portal")
    browser.wait_for(f"{STATE.format('portal')} === 'up'")
    png = browser.screenshot(tmp_path / "wall.png")
    assert png_size(png) == (1920, 1080)
    assert len(png) > 30_000  # a blank or error page compresses to a few kilobytes


def test_wall_turns_a_system_red_on_outage(wall: tuple[ApiServer, Chromium],
                                           api_db: str) -> None:
    _, browser = wall
    _keep_fresh(api_db, "payments")
    browser.wait_for(f"{STATE.format('payments')} === 'up'")
    _keep_fresh(api_db, "payments", ok=False)  # what the collector writes when it is refused
    browser.wait_for(f"{STATE.format('payments')} === 'down'", timeout_s=INTERVAL_S + 5)
    assert browser.evaluate(
        "document.querySelector('.system[data-system=\"payments\"] .state').textContent"
    ) == "Gián đoạn"


def test_wall_shows_alert_label_as_text(wall: tuple[ApiServer, Chromium]) -> None:
    _, browser = wall
    label = browser.wait_for("document.querySelector('#alerts .alert .label')?.textContent")
    assert label == XSS
    assert browser.evaluate("document.querySelectorAll('#alerts script, #alerts img').length") \
        == 0
    assert browser.evaluate("window.__xss === undefined")


def test_wall_says_which_alert_mutes_another(wall: tuple[ApiServer, Chromium],
                                             api_db: str) -> None:
    """An alert muted by inhibition (alerts.inhibited_by) is listed, greyed, with its source."""
    _, browser = wall
    now = datetime.now(UTC)
    add_alert(api_db, "fp-system", now, summary="Hệ thống portal ngừng hoạt động")
    add_alert(api_db, "fp-muted", now, summary="portal-home không phản hồi")
    with db.connect(api_db) as conn:
        conn.execute("UPDATE alerts SET inhibited_by = 'fp-system' WHERE fingerprint ="
                     " 'fp-muted'")
    add_alert(api_db, "fp-muted", now, summary="portal-home không phản hồi", notify=True)
    muted = browser.wait_for("document.querySelector('.alert[data-muted=\"true\"] .muted')"
                             "?.textContent")
    assert muted == "Bị ẩn bởi: Hệ thống portal ngừng hoạt động"
    assert browser.evaluate("document.querySelectorAll('.alert[data-muted=\"true\"]').length") \
        == 1


def test_wall_breaks_no_content_security_policy(wall: tuple[ApiServer, Chromium]) -> None:
    _, browser = wall
    browser.wait_for("document.querySelectorAll('.system').length === 3")
    assert browser.evaluate("window.__csp") == []


def test_wall_speaks_english_on_request(wall: tuple[ApiServer, Chromium], api_db: str) -> None:
    server, browser = wall
    browser.open(f"{server.url}/wall?lang=en")  # the token is remembered from the first visit
    _keep_fresh(api_db, "portal")
    browser.wait_for(f"{STATE.format('portal')} === 'up'")
    assert browser.evaluate("document.documentElement.lang") == "en"
    assert browser.evaluate(
        "document.querySelector('.system[data-system=\"portal\"] .state').textContent"
    ) == "Healthy"
    assert browser.wait_for(RECON_NAME).endswith("(7 days)")
    assert "token" not in browser.evaluate("location.href")


def test_wall_greys_out_when_the_server_goes_and_reconnects_by_itself(
        wall: tuple[ApiServer, Chromium], api_db: str) -> None:
    server, browser = wall
    _keep_fresh(api_db, "portal")
    browser.open(f"{server.url}/wall")
    browser.wait_for(f"{STATE.format('portal')} === 'up'")
    server.stop()  # every screen loses its feed
    browser.wait_for("document.querySelector('#conn').dataset.state === 'offline'")
    assert browser.evaluate(STATE.format("portal")) == "nodata"  # grey, never a stale green
    again = ApiServer(api_db, port=server.port, heartbeat_s=1.0, refresh_s=0.5).start()
    try:
        _keep_fresh(api_db, "portal")
        browser.wait_for("document.querySelector('#conn').dataset.state === 'live'", 30)
        browser.wait_for(f"{STATE.format('portal')} === 'up'")
    finally:
        again.stop()

