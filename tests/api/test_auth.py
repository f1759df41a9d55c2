"""Tokens end to end: the CLI, hashing, immediate revocation, failure rate limit, CORS, CSP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from ioc import db
from ioc.api.app import CSP, create_app
from ioc.api.ratelimit import FailureLimiter
from ioc.cli import main
from ioc.db import make_pool
from ioc.settings import Settings

from .conftest import Tokens
from .server import ApiServer


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def ioc(monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run `ioc ...` in this process against a database (settings come from the environment)."""

    def run(url: str, *args: str) -> Run:
        monkeypatch.setenv("IOC_DATABASE_URL", url)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusing the command line
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Run(code, out.out, out.err)

    return run


@pytest.fixture(scope="module")
def limited(api_db: str) -> Iterator[ApiServer]:
    clock = [1000.0]
    limiter = FailureLimiter(limit=3, window_s=60, clock=lambda: clock[0])
    server = ApiServer(api_db, limiter=limiter).start()
    server.clock = clock  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_token_cli_creates_lists_and_revokes(ioc: Callable[..., Run], api_server: ApiServer,
                                             api_db: str) -> None:
    made = ioc(api_db, "token", "create", "--role", "viewer", "--name", "wall-1")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("ioc_") and len(secret) > 40
    me = httpx.get(f"{api_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json() == {"name": "wall-1", "role": "viewer"}

    listed = ioc(api_db, "token", "list")
    assert "wall-1" in listed.stdout and secret not in listed.stdout
    with db.connect(api_db) as conn:
        stored = conn.execute("SELECT hash FROM api_tokens WHERE name = 'wall-1'").fetchone()
    assert stored is not None and len(stored[0]) == 64 and secret not in stored[0]

    again = ioc(api_db, "token", "create", "--role", "viewer", "--name", "wall-1")
    assert again.returncode == 1 and "exists" in again.stderr

    assert ioc(api_db, "token", "revoke", "wall-1").returncode == 0
    after = httpx.get(f"{api_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert after.status_code == 401


def test_token_cli_refuses_an_unknown_role(ioc: Callable[..., Run], api_db: str) -> None:
    bad = ioc(api_db, "token", "create", "--role", "root", "--name", "x")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_admin_creates_and_revokes_tokens_over_the_api(api_server: ApiServer,
                                                       api_tokens: Tokens) -> None:
    admin = {"Authorization": f"Bearer {api_tokens.admin}"}
    with httpx.Client(base_url=api_server.url, headers=admin) as client:
        made = client.post("/api/v1/tokens", json={"name": "leader-1", "role": "viewer"})
        assert made.status_code == 201
        secret, token_id = made.json()["token"], made.json()["id"]
        listed = client.get("/api/v1/tokens").json()
        assert "token" not in listed[0] and any(t["name"] == "leader-1" for t in listed)
        assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 200
        assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 404
    gone = httpx.get(f"{api_server.url}/api/v1/status",
                     headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401


def test_revocation_closes_an_open_live_feed(api_server: ApiServer, api_tokens: Tokens) -> None:
    admin = {"Authorization": f"Bearer {api_tokens.admin}"}
    made = httpx.post(f"{api_server.url}/api/v1/tokens", headers=admin,
                      json={"name": "wall-revoked", "role": "viewer"}).json()

    async def watch() -> int | None:
        async with websockets.connect(api_server.ws_url,
                                      subprotocols=[Subprotocol("ioc.v1"),
                                                    Subprotocol(f"bearer.{made['token']}")]) as ws:
            assert ws.subprotocol == "ioc.v1"
            await ws.recv()  # snapshot
            await asyncio.to_thread(httpx.delete, f"{api_server.url}/api/v1/tokens/{made['id']}",
                                    headers=admin)
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), timeout=10)
            return ws.close_code

    assert asyncio.run(watch()) == 1008


def test_failures_are_rate_limited_per_address(limited: ApiServer, api_tokens: Tokens) -> None:
    url = f"{limited.url}/api/v1/status"
    for n in range(3):
        assert httpx.get(url, headers={"Authorization": f"Bearer ioc_wrong{n}"}
                         ).status_code == 401
    blocked = httpx.get(url, headers={"Authorization": "Bearer ioc_wrong3"})
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "60"
    # A valid token is served all the same (it is checked before the limiter is asked).
    assert httpx.get(url, headers={"Authorization": f"Bearer {api_tokens.viewer}"}
                     ).status_code == 200
    limited.clock[0] += 61  # type: ignore[attr-defined]
    assert httpx.get(url, headers={"Authorization": "Bearer ioc_wrong4"}).status_code == 401


def test_cors_is_closed_and_pages_carry_a_strict_csp(api_server: ApiServer) -> None:
    pre = httpx.options(f"{api_server.url}/api/v1/status",
                        headers={"Origin": "https://evil.example",
                                 "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in pre.headers
    page = httpx.get(f"{api_server.url}/wall")
    assert page.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text and " style=" not in page.text


def test_secrets_never_reach_the_log(api_server: ApiServer, api_tokens: Tokens,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    httpx.get(f"{api_server.url}/wall?token={api_tokens.viewer}")
    httpx.get(f"{api_server.url}/api/v1/status",
              headers={"Authorization": f"Bearer {api_tokens.viewer}x"})

    async def handshake() -> None:
        async with websockets.connect(f"{api_server.ws_url}?token={api_tokens.viewer}") as ws:
            await ws.recv()

    asyncio.run(handshake())
    server_side = [r.getMessage() for r in caplog.records
                   if r.name.startswith(("ioc", "uvicorn"))]  # httpx logs its own URLs
    assert "GET /wall 200" in " ".join(server_side)
    assert not [m for m in server_side if api_tokens.viewer in m]


async def test_cors_opens_only_to_the_origins_given() -> None:
    settings = Settings(database_url="postgresql://unused")
    app = create_app(settings, make_pool(settings.database_url),
                     cors_origins=["https://wall.soha.gov.vn"])
    preflight = {"Access-Control-Request-Method": "GET"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as client:
        ok = await client.options("/api/v1/status",
                                  headers={**preflight, "Origin": "https://wall.soha.gov.vn"})
        other = await client.options("/api/v1/status",
                                     headers={**preflight, "Origin": "https://evil.example"})
    assert ok.headers["access-control-allow-origin"] == "https://wall.soha.gov.vn"
    assert "access-control-allow-origin" not in other.headers
