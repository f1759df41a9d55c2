"""Every route against every kind of caller: none, viewer, operator, admin, ingest, metrics,
revoked."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import websockets
from fastapi.routing import APIRoute, APIWebSocketRoute

from ioc.api.ratelimit import FailureLimiter
from ioc.config.holder import ConfigHolder
from ioc.settings import PROJECT_ROOT

from .conftest import Tokens
from .seed import add_alert, add_probe, add_target
from .server import ApiServer

ROLES = ("none", "viewer", "operator", "admin", "ingest", "metrics", "revoked")
_names = itertools.count()


def _body(path: str) -> object:
    if path == "/api/v1/silences":
        return {"matchers": [{"label": "system", "value": "portal"}], "duration": "1h",
                "comment": "maintenance"}
    if path == "/api/v1/push":
        return {"samples": [{"metric": "documents_signing_total", "labels": {"agency": "stp"},
                             "value": 3}]}
    if path == "/api/v1/tokens":
        return {"name": f"made-{next(_names)}", "role": "viewer"}
    return None


# (method, path template, concrete path, least role, status when allowed)
ROUTES = [
    ("GET", "/api/v1/status", "/api/v1/status", "viewer", 200),
    ("GET", "/api/v1/status/{system}", "/api/v1/status/portal", "viewer", 200),
    ("GET", "/api/v1/targets", "/api/v1/targets", "viewer", 200),
    ("GET", "/api/v1/targets/{target_id}/series", "/api/v1/targets/portal-home/series",
     "viewer", 200),
    ("GET", "/api/v1/series", "/api/v1/series?name=queue_depth", "viewer", 200),
    ("GET", "/api/v1/kpis", "/api/v1/kpis", "viewer", 200),
    ("GET", "/api/v1/kpis/{kpi}", "/api/v1/kpis/availability", "viewer", 200),
    ("GET", "/api/v1/alerts", "/api/v1/alerts", "viewer", 200),
    ("POST", "/api/v1/alerts/{fingerprint}/ack", "/api/v1/alerts/fp-roles/ack", "operator", 200),
    ("POST", "/api/v1/alerts/{fingerprint}/ack", "/api/v1/alerts/no-such/ack", "operator", 404),
    ("GET", "/api/v1/silences", "/api/v1/silences", "viewer", 200),
    ("POST", "/api/v1/silences", "/api/v1/silences", "operator", 201),
    ("POST", "/api/v1/silences/{silence_id}/expire", "/api/v1/silences/999999/expire",
     "operator", 404),
    ("GET", "/api/v1/oncall", "/api/v1/oncall", "viewer", 200),
    ("GET", "/api/v1/reports", "/api/v1/reports", "viewer", 200),
    ("GET", "/api/v1/reports/{report_id}", "/api/v1/reports/999999", "viewer", 404),
    ("POST", "/api/v1/push", "/api/v1/push", "ingest", 200),
    ("GET", "/api/v1/me", "/api/v1/me", "viewer", 200),
    ("GET", "/api/v1/tokens", "/api/v1/tokens", "admin", 200),
    ("POST", "/api/v1/tokens", "/api/v1/tokens", "admin", 201),
    ("DELETE", "/api/v1/tokens/{token_id}", "/api/v1/tokens/999999", "admin", 404),
    ("GET", "/metrics", "/metrics", "metrics", 200),
    ("GET", "/api/v1/config", "/api/v1/config", "admin", 200),
    ("POST", "/api/v1/config/reload", "/api/v1/config/reload", "admin", 200),
]
PUBLIC = [
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/wall"),
    ("GET", "/wall/{name}"), ("GET", "/api/v1/openapi.json"), ("GET", "/docs"),
    ("GET", "/api/docs"),
]
# Authenticated by their own signed token instead of a bearer (tests/api/test_rest.py).
SIGNED = [("GET", "/api/v1/alerts/ack/{token}"), ("POST", "/api/v1/alerts/ack/{token}")]
_RANK = {"viewer": 1, "operator": 2, "admin": 3}


def allowed(role: str, need: str) -> bool:
    if role in ("none", "revoked"):
        return False
    if need == "ingest":
        return role == "ingest"
    if need == "metrics":  # a scrape token, or anyone who may read
        return role in ("metrics", *_RANK)
    return _RANK.get(role, 0) >= _RANK[need]


@pytest.fixture(scope="module")
def server(api_db: str) -> Iterator[ApiServer]:
    now = datetime.now(UTC)
    add_target(api_db, "portal-home", "portal")
    add_probe(api_db, "portal-home", now, True)
    add_alert(api_db, "fp-roles", now)
    limiter = FailureLimiter(limit=10_000, window_s=60, clock=lambda: 0.0)
    holder = ConfigHolder(PROJECT_ROOT / "config", env={})
    srv = ApiServer(api_db, limiter=limiter, config=lambda: holder.config,
                    reload_config=holder.reload).start()
    yield srv
    srv.stop()


def test_matrix_covers_every_route(server: ApiServer) -> None:
    covered = {(m, t) for m, t, *_ in ROUTES} | set(PUBLIC) | set(SIGNED)
    for route in server.app.routes:
        if isinstance(route, APIRoute):
            for method in (route.methods or set()) - {"HEAD"}:
                assert (method, route.path) in covered, f"{method} {route.path} not in matrix"
        elif isinstance(route, APIWebSocketRoute):
            assert route.path == "/ws/live"


@pytest.mark.parametrize(("method", "template", "path", "need", "ok"), ROUTES,
                         ids=[f"{m} {p}" for m, _, p, *_ in ROUTES])
def test_route_admits_exactly_the_roles_allowed(server: ApiServer, api_tokens: Tokens,
                                                method: str, template: str, path: str,
                                                need: str, ok: int) -> None:
    with httpx.Client(base_url=server.url) as client:
        for role in ROLES:
            secret = api_tokens.of(role)
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            resp = client.request(method, path, headers=headers, json=_body(path))
            if allowed(role, need):
                expected = ok
            else:
                expected = 401 if role in ("none", "revoked") else 403
            assert resp.status_code == expected, (role, resp.text)
            if expected == 401:
                assert resp.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), [(m, p.replace("{name}", "wall.js"))
                                              for m, p in PUBLIC])
def test_public_routes_need_no_token(server: ApiServer, method: str, path: str) -> None:
    resp = httpx.request(method, server.url + path)
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("role", ROLES)
def test_websocket_admits_viewers_and_above(server: ApiServer, api_tokens: Tokens,
                                            role: str) -> None:
    async def attempt() -> str:
        secret = api_tokens.of(role)
        url = server.ws_url + (f"?token={secret}" if secret else "")
        try:
            async with websockets.connect(url, open_timeout=5) as ws:
                return str(json.loads(await ws.recv())["type"])
        except websockets.InvalidStatus as exc:
            return f"refused {exc.response.status_code}"

    expected = "snapshot" if allowed(role, "viewer") else "refused 403"
    assert asyncio.run(attempt()) == expected
