"""Bearer-token authentication and role checks for REST routes and the websocket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ioc.api import tokens
from ioc.api.database import Database
from ioc.api.metrics import ApiMetrics
from ioc.api.ratelimit import FailureLimiter, address_key, limiter_kind, prefix_key
from ioc.api.tokens import Role

# viewer < operator < admin; ingest stands apart: push only, and only it may push (a push is
# attributed to the push target that names the token). metrics stands apart too: it may only
# scrape /metrics (a Prometheus credentials file that leaks reveals nothing of the province),
# which every reader (viewer and up) may also do.
_RANK: dict[str, int] = {"viewer": 1, "operator": 2, "admin": 3}
WS_PROTOCOL = "ioc.v1"
WS_BEARER_PREFIX = "bearer."

bearer = HTTPBearer(auto_error=False, description="an API token: `ioc token create --role ...`")


def allows(have: Role, need: Role) -> bool:
    """Whether a token of role `have` may use a route that needs `need`."""
    if need == "ingest":
        return have == "ingest"
    if need == "metrics":
        return have == "metrics" or have in _RANK
    return _RANK.get(have, 0) >= _RANK[need]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name and role."""

    token_id: int
    name: str
    role: Role


class AuthError(Exception):
    """Authentication or authorisation failed; carries the HTTP status to answer with."""

    def __init__(self, status: int, reason: str, retry_after: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after

    def http(self) -> HTTPException:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}
        if self.retry_after:
            headers["Retry-After"] = str(self.retry_after)
        return HTTPException(self.status, self.reason, headers=headers)


class Authenticator:
    """Checks tokens against the database on every call, so a revocation applies at once.

    A presented token is looked up first (one indexed query), whatever the limiter thinks of
    its sender: a valid token is always served. Only a missing or invalid credential is counted,
    per client address and per token prefix, and answered 429 once either is over the limit; a
    secret refused within the window is refused again without asking the database.

    A token that cannot be checked (the database is away) is neither accepted nor refused:
    `DatabaseDown` (or the driver's error) propagates and the caller answers 503.
    """

    def __init__(self, database: Database, limiter: FailureLimiter,
                 clock: Callable[[], datetime], metrics: ApiMetrics) -> None:
        self._db = database
        self._limiter = limiter
        self._clock = clock
        self._metrics = metrics
        metrics.watch_limiter(limiter)

    async def authenticate(self, secret: str | None, client: str, need: Role) -> Principal:
        """The principal for `secret` if it may act as `need`; raises AuthError otherwise."""
        token = None
        if secret and tokens.plausible(secret) and not self._limiter.known_bad(secret):
            async with self._db.connection() as conn:
                token = await tokens.lookup(conn, secret, self._clock())
        if token is None:
            raise self.failure(client, secret,
                               "missing bearer token" if not secret else "invalid or revoked token")
        if not allows(token.role, need):
            raise AuthError(403, f"role {token.role} may not do this (needs {need})")
        return Principal(token.id, token.name, token.role)

    def failure(self, client: str, secret: str | None, reason: str,
                status: int = 401) -> AuthError:
        """Count one failed authentication from `client` (with `secret`, if one was presented)
        and return the error to answer: 429 with Retry-After while the address or the token's
        prefix is over the limit, else `status` with `reason`."""
        keys = [address_key(client)]
        token_key = prefix_key(secret)
        if token_key is not None:
            keys.append(token_key)
        blocked = any(self._limiter.retry_after(key) for key in keys)
        for key in keys:
            if self._limiter.failed(key):
                self._metrics.auth_lockouts.labels(kind=limiter_kind(key)).inc()
        if secret:
            self._limiter.remember_bad(secret)
        self._metrics.auth_failures.inc()
        if not blocked:
            return AuthError(status, reason)
        self._metrics.auth_refused.inc()
        wait = max(self._limiter.retry_after(key) for key in keys)
        return AuthError(429, "too many failed authentications; retry later", wait)


def client_address(conn: Request | WebSocket) -> str:
    """The client's address: the peer's, or, when the peer is a declared trusted proxy, the
    right-most address its X-Forwarded-For names that is not itself a trusted proxy (see
    `trusted_proxies` in ioc.api.app; uvicorn's ProxyHeadersMiddleware rewrites the peer)."""
    return conn.client.host if conn.client else "unknown"


def require(need: Role) -> Callable[..., Awaitable[Principal]]:
    """A route dependency admitting tokens whose role allows `need`."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal:
        auth: Authenticator = request.app.state.services.auth
        secret = credentials.credentials if credentials else None
        try:
            return await auth.authenticate(secret, client_address(request), need)
        except AuthError as exc:
            raise exc.http() from None

    return dependency


def websocket_secret(ws: WebSocket) -> tuple[str | None, str | None]:
    """The token from `?token=` or a `bearer.<token>` subprotocol, and the subprotocol to accept.

    Browsers cannot set headers on a websocket, so the page offers
    `Sec-WebSocket-Protocol: ioc.v1, bearer.<token>` and the server answers `ioc.v1`.
    """
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
    accept = WS_PROTOCOL if WS_PROTOCOL in offered else None
    for proto in offered:
        if proto.startswith(WS_BEARER_PREFIX):
            return proto[len(WS_BEARER_PREFIX):], accept
    return ws.query_params.get("token"), accept
