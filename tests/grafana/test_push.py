"""`ioc grafana push` against a loopback server speaking the part of Grafana's HTTP API it uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ioc.cli import main
from ioc.grafana.dashboards import PLAYLIST

from .harness import load_dashboards

TOKEN = "glsa_test-token-123"
PASSWORD = "s3cret-pw-ioc"
DS = "/api/datasources/uid/ioc-timescaledb"


@dataclass
class FakeGrafana:
    """Grafana's folder, data source, dashboard and playlist endpoints, with memory."""

    healthy: bool = True
    requests: list[tuple[str, str, str, Any]] = field(default_factory=list)
    objects: dict[str, Any] = field(default_factory=dict)

    @web.middleware
    async def record(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path,
                              request.headers.get("Authorization", ""), body))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        return await handler(request)

    def _get(self, key: str) -> web.Response:
        if key not in self.objects:
            return web.json_response({"message": "not found"}, status=404)
        return web.json_response(self.objects[key])

    def _put(self, key: str, body: Any) -> web.Response:
        self.objects[key] = body
        return web.json_response({"message": "saved", "uid": body.get("uid")})

    def app(self) -> web.Application:
        async def get(request: web.Request) -> web.Response:
            return self._get(request.path)

        def create(prefix: str) -> Callable[[web.Request], Awaitable[web.Response]]:
            async def handler(request: web.Request) -> web.Response:
                body = await request.json()
                return self._put(f"{prefix}/{body['uid']}", body)
            return handler

        async def update(request: web.Request) -> web.Response:
            if request.path not in self.objects:
                return web.json_response({"message": "not found"}, status=404)
            return self._put(request.path, await request.json())

        async def dashboard(request: web.Request) -> web.Response:
            body = await request.json()
            return self._put(f"/api/dashboards/uid/{body['dashboard']['uid']}", body)

        async def health(request: web.Request) -> web.Response:
            if self.healthy:
                return web.json_response({"status": "OK", "message": "Database Connection OK"})
            return web.json_response({"status": "ERROR", "message": "password authentication "
                                      "failed for user \"ioc_grafana\""}, status=400)

        app = web.Application(middlewares=[self.record])
        app.router.add_get("/api/folders/{uid}", get)
        app.router.add_post("/api/folders", create("/api/folders"))
        app.router.add_get(DS + "/health", health)
        app.router.add_get("/api/datasources/uid/{uid}", get)
        app.router.add_post("/api/datasources", create("/api/datasources/uid"))
        app.router.add_put("/api/datasources/uid/{uid}", update)
        app.router.add_post("/api/dashboards/db", dashboard)
        app.router.add_get("/api/playlists/{uid}", get)
        app.router.add_post("/api/playlists", create("/api/playlists"))
        app.router.add_put("/api/playlists/{uid}", update)
        return app


@pytest.fixture
async def grafana() -> AsyncIterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield fake, f"http://{host}:{port}"
    await runner.cleanup()


async def _push(url: str, token: str = TOKEN) -> int:
    return await asyncio.to_thread(main, ["grafana", "push", "--url", url, "--token", token,
                                          "--db-host", "tsdb.internal:5432", "--db-name", "ioc"])


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_GRAFANA_DB_PASSWORD", PASSWORD)


async def test_push_creates_everything_with_the_documented_requests(
        grafana: tuple[FakeGrafana, str]) -> None:
    fake, url = grafana
    assert await _push(url) == 0
    dashboards = load_dashboards()
    calls = [(m, p) for m, p, _, _ in fake.requests]
    assert calls == [
        ("GET", "/api/folders/ioc"), ("POST", "/api/folders"),
        ("GET", DS), ("POST", "/api/datasources"),
        *[("POST", "/api/dashboards/db")] * len(dashboards),
        ("GET", "/api/playlists/ioc-wall"), ("POST", "/api/playlists"),
        ("GET", DS + "/health"),
    ]
    assert {auth for _, _, auth, _ in fake.requests} == {f"Bearer {TOKEN}"}
    bodies = [b for _, _, _, b in fake.requests]
    assert bodies[1] == {"title": "IOC", "uid": "ioc"}
    ds = bodies[3]
    assert (ds["uid"], ds["type"], ds["url"], ds["user"]) == (
        "ioc-timescaledb", "grafana-postgresql-datasource", "tsdb.internal:5432", "ioc_grafana")
    assert ds["jsonData"]["timescaledb"] is True and ds["jsonData"]["database"] == "ioc"
    assert ds["secureJsonData"] == {"password": PASSWORD}
    saved = [b for m, p, _, b in fake.requests if p == "/api/dashboards/db"]
    assert all(b["folderUid"] == "ioc" and b["overwrite"] is True for b in saved)
    assert all(b["dashboard"]["id"] is None for b in saved)  # matched by uid, not by id
    sent = {b["dashboard"]["uid"]: {k: v for k, v in b["dashboard"].items() if k != "id"}
            for b in saved}
    assert sent == dashboards
    playlist = fake.objects["/api/playlists/ioc-wall"]
    assert [i["value"] for i in playlist["items"]] == list(PLAYLIST)
    assert {i["type"] for i in playlist["items"]} == {"dashboard_by_uid"}


async def test_second_push_updates_in_place(grafana: tuple[FakeGrafana, str]) -> None:
    fake, url = grafana
    assert await _push(url) == 0
    fake.requests.clear()
    assert await _push(url) == 0
    writes = [(m, p) for m, p, _, _ in fake.requests if m != "GET" and "dashboards" not in p]
    assert writes == [("PUT", DS), ("PUT", "/api/playlists/ioc-wall")]


async def test_failed_health_check_fails_without_leaking_secrets(
        grafana: tuple[FakeGrafana, str], capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = grafana
    fake.healthy = False
    assert await _push(url) == 1
    out = capsys.readouterr()
    assert "health" in out.err and "password authentication failed" in out.err
    assert PASSWORD not in out.out + out.err and TOKEN not in out.out + out.err


async def test_wrong_token_is_refused_clearly(grafana: tuple[FakeGrafana, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = grafana
    assert await _push(url, token="wrong-token") == 1
    err = capsys.readouterr().err
    assert "folder" in err and "401" in err and "wrong-token" not in err
    assert [m for m, _, _, _ in fake.requests] == ["GET"]


async def test_unreachable_grafana_is_an_error_not_a_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert await _push("http://127.0.0.1:9") == 1
    assert "cannot reach Grafana" in capsys.readouterr().err


def test_push_without_password_changes_nothing(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("IOC_GRAFANA_DB_PASSWORD")
    assert main(["grafana", "push", "--url", "http://127.0.0.1:9", "--token", TOKEN]) == 2
    assert "IOC_GRAFANA_DB_PASSWORD" in capsys.readouterr().err

