"""A lost database, end to end: `ioc serve` on a PostgreSQL cluster of the test's own, which the
test stops and starts (never the shared server).

While the database is known to be down every route that needs it answers 503 with Retry-After
at once (not after the pool's wait), the log says so on one line and on one more when it is
back, and the wall says "Mất kết nối cơ sở dữ liệu" and is live again by itself afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi.routing import iter_route_contexts

from alerts.ack import sign
from ioc import db, migrate
from ioc.api.app import create_app
from ioc.api.browser import Chromium
from ioc.db import make_pool
from ioc.settings import PROJECT_ROOT, Settings
from tests.pgserver import PgCluster, free_port, pg_cluster  # noqa: F401 - the fixture

from .conftest import Tokens, make_tokens
from .seed import add_probe
from .server import terminate

SECRET = "outage-test-secret-0123456789abcdef"
# Far below the pool's wait (5 s) and its old default (30 s), far above a 503 that waits for
# nothing, even on a loaded machine.
CLIENT_TIMEOUT_S = 3.0
# Routes that never touch the database: they answer as usual during an outage.
NO_DATABASE = {("GET", "/healthz"), ("GET", "/wall"), ("GET", "/wall/{name}"),
               ("GET", "/docs"), ("GET", "/api/docs"), ("GET", "/api/v1/openapi.json"),
               ("GET", "/api/v1/alerts/ack/{token}")}  # the signed link's confirmation page
CONN = "document.querySelector('#conn')"
STATE = "document.querySelector('.system[data-system=\"{}\"]').dataset.state"


@dataclass
class Serve:
    """`ioc serve` as a process, with its log."""

    url: str
    log: Path
    tokens: Tokens
    db_url: str

    def lines(self, pattern: str) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if re.search(pattern, line)]

    def wait_log(self, pattern: str, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.lines(pattern)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {count}th log line matching {pattern!r}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            time.sleep(0.1)


@pytest.fixture(scope="module")
def serve(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
          ) -> Iterator[Serve]:
    with db.connect(pg_cluster.url) as conn:
        migrate.migrate(conn)
    tokens = make_tokens(pg_cluster.url)
    state = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {**os.environ, "IOC_DATABASE_URL": pg_cluster.url, "IOC_API_PORT": str(port),
           "IOC_STATE_DIR": str(state), "IOC_SECRET_KEY": SECRET,
           "IOC_CONFIG_DIR": str(PROJECT_ROOT / "config")}
    log = state / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ioc.cli", "serve"], env=env,
                                stdout=out, stderr=out)
    running = Serve(f"http://127.0.0.1:{port}", log, tokens, pg_cluster.url)
    try:
        _wait(lambda: _status(f"{running.url}/readyz") == 200, "ioc serve ready", 60)
        yield running
    finally:
        terminate(proc)


def test_every_route_answers_503_at_once_while_the_database_is_down(
        serve: Serve, pg_cluster: PgCluster) -> None:  # noqa: F811
    calls = _calls(serve)
    assert len(calls) > 20  # the whole API, not a sample
    # With the database up, nothing is a 503 (reads only: writes would change the data).
    before = {(m, t): _call(serve, m, p, t)[0] for m, t, p in calls if m == "GET"}
    assert before[("GET", "/api/v1/status")] == 200
    assert not [k for k, status in before.items() if status in (503, "timeout")], before
    pg_cluster.stop()
    try:
        serve.wait_log("database unreachable", 1)
        answers = {(m, t): _call(serve, m, p, t) for m, t, p in calls}
        live = asyncio.run(_live_answer(serve))
        ready = httpx.get(f"{serve.url}/readyz", timeout=CLIENT_TIMEOUT_S)
    finally:
        pg_cluster.start()
    slow = {k: a for k, a in answers.items() if a[0] == "timeout"}
    assert not slow, f"waited on the pool: {slow}"
    for (method, template), (status, retry_after) in answers.items():
        if (method, template) in NO_DATABASE:
            assert status == 200, (method, template)
        else:  # never 401 for a token that cannot be checked, never a 500
            assert (status, retry_after) == (503, "5"), (method, template, status)
    assert ready.status_code == 503 and ready.json()["reason"] == "database unreachable"
    assert live == ({"type": "database", "state": "down", "timezone": "Asia/Ho_Chi_Minh"},
                    1013)
    # Back by itself: the log says so once, the API answers and the feed is live.
    serve.wait_log("database reachable again", 1)
    _wait(lambda: _call(serve, "GET", "/api/v1/status", "/api/v1/status")[0] == 200,
          "the API to answer again", 15)
    assert asyncio.run(_live_answer(serve))[0]["type"] == "snapshot"
    assert len(serve.lines("database unreachable")) == 1
    assert len(serve.lines("database reachable again")) == 1
    text = serve.log.read_text(errors="replace")
    assert "Traceback" not in text and "PoolTimeout" not in text


def test_the_wall_says_the_database_is_lost_and_recovers_without_a_reload(
        serve: Serve, pg_cluster: PgCluster) -> None:  # noqa: F811
    outages = len(serve.lines("database unreachable"))
    with Chromium(1920, 1080) as browser:
        browser.open(f"{serve.url}/wall#token={serve.tokens.viewer}")
        _wait_portal_up(browser, serve)
        pg_cluster.stop()
        try:
            # A screen that was live hears it over its open feed ...
            browser.wait_for(f"{CONN}.dataset.state === 'dbdown'")
            _assert_database_lost(browser)
            # ... and one that (re)connects meanwhile is told on connecting.
            browser.open(f"{serve.url}/wall")
            browser.wait_for(f"{CONN}.dataset.state === 'dbdown'")
            _assert_database_lost(browser)
            browser.evaluate("window.__sameDocument = true")
            time.sleep(3)  # a few reconnection attempts while it is down
            _assert_database_lost(browser)
        finally:
            pg_cluster.start()
        serve.wait_log("database reachable again", outages + 1)
        browser.wait_for(f"{CONN}.dataset.state === 'live'", 60)
        _wait_portal_up(browser, serve)
        assert browser.evaluate("window.__sameDocument") is True  # no reload
        assert browser.evaluate("document.body.dataset.db") == "up"


def _wait_portal_up(browser: Chromium, serve: Serve, timeout_s: float = 90.0) -> None:
    """Fresh probes until the wall shows the portal up: on a loaded machine a single batch can
    go stale (2 x interval) before a slow browser has rendered it."""
    deadline = time.monotonic() + timeout_s
    while True:
        _probe_everything(serve.db_url, "portal")
        try:
            browser.wait_for(f"{STATE.format('portal')} === 'up'", 10)
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    "the wall never showed the portal up; connection state "
                    f"{browser.evaluate(CONN + '.dataset.state')!r}; serve log:\n"
                    + serve.log.read_text(errors="replace")[-2000:]) from None


def _assert_database_lost(browser: Chromium) -> None:
    assert browser.evaluate("document.querySelector('#conn-text').textContent") \
        == "Mất kết nối cơ sở dữ liệu"
    assert browser.evaluate("document.body.dataset.db") == "down"
    states = browser.evaluate("[...document.querySelectorAll('.system')]"
                              ".map(c => c.dataset.state)")
    assert states == ["nodata"] * 3  # grey, never a stale green
    green = browser.evaluate(
        "[...document.querySelectorAll('.system, .kpi .kvalue, #conn')].filter(el => "
        "getComputedStyle(el).color === 'rgb(34, 197, 94)' || getComputedStyle(el)"
        ".borderColor === 'rgb(34, 197, 94)').length")
    assert green == 0


def _calls(serve: Serve) -> list[tuple[str, str, str]]:
    """(method, path template, concrete path) of every HTTP route of the app."""
    app = create_app(Settings(database_url=serve.db_url, secret_key=SECRET),
                     make_pool(serve.db_url))
    ack = sign("fp-outage", 1, datetime.now(UTC) + timedelta(days=1), SECRET)
    values = {"system": "portal", "target_id": "portal-home", "report_id": "1",
              "fingerprint": "fp-outage", "kpi": "766.2.1", "token": ack, "name": "wall.js",
              "token_id": "999", "silence_id": "999"}
    calls = []
    for route in iter_route_contexts(app.routes):  # routes of included routers with prefixes
        template = str(route.path)
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "1"), template)
        calls += [(m, template, path) for m in sorted((route.methods or set()) - {"HEAD"})]
    return calls  # the websocket (no methods) is tested on its own


def _call(serve: Serve, method: str, path: str, template: str) -> tuple[int | str, str | None]:
    """(status or "timeout", Retry-After) of one call with a token allowed to make it."""
    secret = serve.tokens.ingest if template == "/api/v1/push" else serve.tokens.admin
    body: dict[str, Any] | None = {"samples": []} if method == "POST" else None
    try:
        resp = httpx.request(method, serve.url + path, json=body, timeout=CLIENT_TIMEOUT_S,
                             params={"name": "x"} if template == "/api/v1/series" else None,
                             headers={"Authorization": f"Bearer {secret}"})
    except httpx.TimeoutException:
        return "timeout", None
    return resp.status_code, resp.headers.get("retry-after")


async def _live_answer(serve: Serve) -> tuple[dict[str, Any], int | None]:
    """The live feed's first message, and its close code if it closed at once."""
    url = f"{serve.url.replace('http', 'ws')}/ws/live?token={serve.tokens.viewer}"
    async with asyncio.timeout(CLIENT_TIMEOUT_S * 2), websockets.connect(url) as ws:
        message: dict[str, Any] = json.loads(await ws.recv())
        if message["type"] == "database":
            await ws.wait_closed()
        return message, ws.close_code


def _probe_everything(url: str, system: str) -> None:
    """A fresh successful probe for each target of `system` (the config's targets)."""
    with db.connect(url) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM targets WHERE enabled AND system = %s", (system,)).fetchall()]
    assert ids
    for target in ids:
        add_probe(url, target, datetime.now(UTC), True, 90.0, notify=True)


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=CLIENT_TIMEOUT_S).status_code
    except httpx.HTTPError:
        return None


def _wait(cond: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)

