"""The built-in wall page (static files, no build step) and the `/ws/live` feed."""

from __future__ import annotations

from importlib import resources

import psycopg
from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from psycopg_pool import PoolTimeout

from ioc.api.auth import AuthError, client_address, websocket_secret
from ioc.api.database import DatabaseDown, lost_connection
from ioc.api.deps import Services
from ioc.api.live import CLOSE_DATABASE_DOWN, DATABASE_DOWN, dumps

router = APIRouter()
DATABASE_ERRORS = (DatabaseDown, psycopg.OperationalError, PoolTimeout)
_FILES = {"wall.js": "text/javascript; charset=utf-8", "wall.css": "text/css; charset=utf-8",
          "favicon.svg": "image/svg+xml"}


def _static(name: str) -> bytes:
    return (resources.files("ioc.api") / "static" / name).read_bytes()


@router.get("/wall", include_in_schema=False)
async def wall() -> Response:
    """The wall page; it reads its token from the URL fragment or ?token= (kiosks)."""
    return Response(_static("wall.html"), media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/wall/{name}", include_in_schema=False)
async def wall_asset(name: str) -> Response:
    if name not in _FILES:
        raise HTTPException(404, "not found")
    return Response(_static(name), media_type=_FILES[name],
                    headers={"Cache-Control": "no-cache"})


@router.websocket("/ws/live")
async def live(ws: WebSocket) -> None:
    """Snapshot on connect, then deltas; a viewer token is required.

    While the database is unreachable a token cannot be checked: the socket is accepted only to
    say so (`{"type": "database", "state": "down"}`, no data) and closed with 1013 (try again
    later), so the page can tell a lost database from a lost server.
    """
    svc: Services = ws.app.state.services
    secret, protocol = websocket_secret(ws)
    try:
        principal = await svc.auth.authenticate(secret, client_address(ws), "viewer")
    except AuthError as exc:
        if exc.status == 429 and "websocket.http.response" in ws.scope.get("extensions", {}):
            # A locked-out client is told so, with when to come back (the handshake's answer).
            await ws.send_denial_response(JSONResponse(
                {"detail": exc.reason}, 429, {"Retry-After": str(exc.retry_after)}))
            return
        # Closing before accepting makes the server answer the handshake with HTTP 403.
        await ws.close(code=1008, reason=exc.reason)
        return
    except DATABASE_ERRORS as exc:
        await ws.accept(subprotocol=protocol)
        await _database_down(ws, svc, exc)
        return
    await ws.accept(subprotocol=protocol)
    client = svc.hub.add(principal)
    try:
        await ws.send_text(dumps(await svc.feed.snapshot()))
    except DATABASE_ERRORS as exc:
        svc.hub.remove(client)
        await _database_down(ws, svc, exc)
        return
    except (WebSocketDisconnect, RuntimeError, OSError):
        svc.hub.remove(client)  # gone before its snapshot arrived
        return
    try:
        await svc.hub.serve(ws, client)
    finally:
        svc.hub.remove(client)


async def _database_down(ws: WebSocket, svc: Services, exc: Exception) -> None:
    """Tell an accepted socket the database is unreachable and close it (the page retries)."""
    if lost_connection(exc):
        svc.db.suspect()
    try:
        await ws.send_text(dumps({**DATABASE_DOWN, "timezone": svc.feed.zone().key}))
        await ws.close(*CLOSE_DATABASE_DOWN)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # gone already
