"""The built-in wall page (static files, no build step) and the `/ws/live` feed."""

from __future__ import annotations

from importlib import resources

import psycopg
from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from psycopg_pool import PoolTimeout

from ioc.api.auth import AuthError, client_address, websocket_secret
from ioc.api.deps import Services
from ioc.api.live import dumps

router = APIRouter()
DATABASE_DOWN = (psycopg.OperationalError, PoolTimeout)
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
    """Snapshot on connect, then deltas; a viewer token is required."""
    svc: Services = ws.app.state.services
    secret, protocol = websocket_secret(ws)
    try:
        principal = await svc.auth.authenticate(secret, client_address(ws), "viewer")
    except AuthError as exc:
        # Closing before accepting makes the server answer the handshake with HTTP 403.
        await ws.close(code=1008, reason=exc.reason)
        return
    except DATABASE_DOWN:
        await ws.close(code=1011, reason="database unavailable")  # the page retries
        return
    await ws.accept(subprotocol=protocol)
    client = svc.hub.add(principal)
    try:
        await ws.send_text(dumps(await svc.feed.snapshot()))
    except DATABASE_DOWN:
        svc.hub.remove(client)
        await ws.close(code=1011, reason="database unavailable")
        return
    except (WebSocketDisconnect, RuntimeError, OSError):
        svc.hub.remove(client)  # gone before its snapshot arrived
        return
    try:
        await svc.hub.serve(ws, client)
    finally:
        svc.hub.remove(client)
