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
from ioc.api.ratelimit import FailureLimiter
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

    A token that cannot be checked (the database is away) is neither accepted nor refused:
    `DatabaseDown` (or the driver's error) propagates and the caller answers 503.
    """

    def __init__(self, database: Database, limiter: FailureLimiter,
                 clock: Callable[[], datetime], metrics: ApiMetrics) -> None:
        self._db = database
        self._limiter = limiter
        self._clock = clock
        self._metrics = metrics

    async def authenticate(self, secret: str | None, client: str, need: Role) -> Principal:
        """The principal for `secret` if it may act as `need`; raises AuthError otherwise."""
        wait = self._limiter.retry_after(client)
        if wait:
            raise AuthError(429, "too many failed authentications; retry later", wait)
        token = None
        if secret:
            async with self._db.connection() as conn:
                token = await tokens.lookup(conn, secret, self._clock())
        if token is None:
            self._limiter.failed(client)
            self._metrics.auth_failures.inc()
            reason = "missing bearer token" if not secret else "invalid or revoked token"
            raise AuthError(401, reason)
        if not allows(token.role, need):
            raise AuthError(403, f"role {token.role} may not do this (needs {need})")
        return Principal(token.id, token.name, token.role)


def client_address(conn: Request | WebSocket) -> str:
    """The peer address (proxies are not trusted for this by default)."""
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
