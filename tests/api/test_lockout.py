"""The failed-authentication limit cannot lock out a valid token, and trusts only declared proxies.

The "proxy" is 127.0.0.2 (declared trusted); the bad client connects from 127.0.0.1 directly
(Linux routes all of 127.0.0.0/8 to the loopback interface, so both are real peers).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from ioc.api.ratelimit import FailureLimiter
from ioc.settings import SettingsError, check_serving, parse_proxies

from .conftest import Tokens
from .server import ApiServer

PROXY = "127.0.0.2"
LIMIT = 10


@pytest.fixture(scope="module")
def server(api_db: str) -> Iterator[ApiServer]:
    import time

    srv = ApiServer(api_db, limiter=FailureLimiter(limit=LIMIT, window_s=600,
                                                   clock=time.monotonic),
                    trusted_proxies=parse_proxies([f"{PROXY}/32"], "test")).start()
    yield srv
    srv.stop()


def _client(url: str, local: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=local),
                        timeout=30)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert found, f"{name} missing from /metrics"
    return float(found.group(1))


async def _live(url: str, secret: str, local: str, headers: dict[str, str] | None = None
                ) -> str:
    async with websockets.connect(
            url, subprotocols=[Subprotocol("ioc.v1"), Subprotocol(f"bearer.{secret}")],
            local_addr=(local, 0), additional_headers=headers or {}) as ws:
        return str(await asyncio.wait_for(ws.recv(), timeout=15))


def test_a_thousand_bad_tokens_never_lock_out_a_valid_one(server: ApiServer,
                                                          api_tokens: Tokens) -> None:
    statuses: list[int] = []
    with _client(server.url) as bad:
        for _ in range(1000):  # distinct well-formed tokens: each one is looked up
            r = bad.get("/api/v1/status", headers=bearer(f"ioc_{secrets.token_urlsafe(32)}"))
            statuses.append(r.status_code)
        assert statuses[:LIMIT] == [401] * LIMIT and set(statuses[LIMIT:]) == {429}
        limited = bad.get("/api/v1/status", headers=bearer("ioc_still-wrong"))
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 600
        assert bad.get("/api/v1/status").status_code == 429  # no token at all: limited too

        # The same address with a valid token: served.
        assert bad.get("/api/v1/status", headers=bearer(api_tokens.operator)).status_code == 200
        # An X-Forwarded-For from an untrusted peer is ignored: still the locked address.
        spoofed = bad.get("/api/v1/status", headers={**bearer("ioc_wrong-again"),
                                                     "X-Forwarded-For": "198.51.100.9"})
        assert spoofed.status_code == 429

    with _client(server.url, PROXY) as proxy:
        # Another client behind the trusted proxy: served with a valid token, and its own bad
        # token is its own first failure (401), not the locked client's 429.
        other = {"X-Forwarded-For": "203.0.113.7"}
        assert proxy.get("/api/v1/me", headers={**bearer(api_tokens.viewer), **other}
                         ).json()["role"] == "viewer"
        assert proxy.get("/api/v1/status", headers={**bearer("ioc_typo"), **other}
                         ).status_code == 401
        # The proxy forwarding the locked client (its right-most untrusted address) refuses it;
        # an address the client put in front of the header itself changes nothing.
        locked = {"X-Forwarded-For": "203.0.113.99, 127.0.0.1"}
        assert proxy.get("/api/v1/status", headers={**bearer("ioc_nope"), **locked}
                         ).status_code == 429
        assert proxy.get("/api/v1/status", headers={**bearer(api_tokens.viewer), **locked}
                         ).status_code == 200

        scrape = proxy.get("/metrics", headers=bearer(api_tokens.metrics)).text
    assert _metric(scrape, "ioc_api_auth_failure_limit") == LIMIT
    assert _metric(scrape, 'ioc_api_auth_locked{kind="address"}') == 1
    assert _metric(scrape, 'ioc_api_auth_lockouts_total{kind="address"}') == 1
    assert _metric(scrape, "ioc_api_auth_refused_total") >= 1000 - LIMIT
    assert _metric(scrape, "ioc_api_auth_failures_total") >= 1000


def test_the_live_feed_follows_the_same_rules(server: ApiServer, api_tokens: Tokens) -> None:
    with _client(server.url, "127.0.0.3") as bad:
        for n in range(LIMIT):
            assert bad.get("/api/v1/status", headers=bearer(f"ioc_bad{n}")).status_code == 401

    async def go() -> None:
        # A valid token from the locked address: the snapshot arrives.
        first = await _live(server.ws_url, api_tokens.viewer, "127.0.0.3")
        assert '"type": "snapshot"' in first or '"type":"snapshot"' in first
        # A bad one is refused with 429 and Retry-After on the handshake.
        with pytest.raises(websockets.InvalidStatus) as refused:
            await _live(server.ws_url, "ioc_wrong", "127.0.0.3")
        assert refused.value.response.status_code == 429
        assert int(refused.value.response.headers["Retry-After"]) >= 1
        # Through the trusted proxy, for another client: its first failure is a plain refusal.
        with pytest.raises(websockets.InvalidStatus) as other:
            await _live(server.ws_url, "ioc_wrong", PROXY, {"X-Forwarded-For": "203.0.113.8"})
        assert other.value.response.status_code == 403
        # And the locked client behind the proxy is still the locked client.
        with pytest.raises(websockets.InvalidStatus) as again:
            await _live(server.ws_url, "ioc_wrong", PROXY, {"X-Forwarded-For": "127.0.0.3"})
        assert again.value.response.status_code == 429

    asyncio.run(go())


def test_a_repeated_bad_token_is_limited_by_its_prefix_across_addresses(
        server: ApiServer) -> None:
    revoked = f"ioc_{secrets.token_urlsafe(32)}"  # a kiosk's revoked token, roaming
    with _client(server.url, PROXY) as proxy:
        codes = [proxy.get("/api/v1/status", headers={**bearer(revoked),
                                                      "X-Forwarded-For": f"192.0.2.{n}"}
                           ).status_code for n in range(LIMIT + 2)]
    assert codes[:LIMIT] == [401] * LIMIT and codes[LIMIT:] == [429, 429]


def test_proxies_and_public_url_are_checked() -> None:
    assert parse_proxies(["127.0.0.1", " 10.0.0.0/8", "", "::1"], "x") == (
        "127.0.0.1/32", "10.0.0.0/8", "::1/128")
    with pytest.raises(SettingsError, match=r"IOC_TRUSTED_PROXIES: 'proxy\.lan' is not"):
        parse_proxies(["proxy.lan"], "IOC_TRUSTED_PROXIES")
    with pytest.raises(SettingsError, match=r"IOC_PUBLIC_URL is https://ioc\.example.*"
                                            r"--tls-cert.*IOC_TRUSTED_PROXIES"):
        check_serving("https://ioc.example", tls=False, trusted_proxies=())
    check_serving("https://ioc.example", tls=True, trusted_proxies=())
    check_serving("https://ioc.example", tls=False, trusted_proxies=("127.0.0.1/32",))
    check_serving("http://127.0.0.1:8080", tls=False, trusted_proxies=())
