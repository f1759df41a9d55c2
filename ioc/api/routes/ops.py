"""Orchestration endpoints: /healthz and /readyz (no token needed), /metrics (a token of role
metrics, or viewer and up: the project's rule is that only health checks are public)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ioc import db, migrate
from ioc.api.auth import require
from ioc.api.database import RETRY_AFTER_S
from ioc.api.deps import Svc

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database reachable and migrations current",
            responses={503: {"description": "not ready, with the reason"}})
async def readyz(svc: Svc) -> JSONResponse:
    if not svc.db.up:  # known from the watcher: answer now, without another connect attempt
        return JSONResponse({"status": "unavailable", "reason": "database unreachable"},
                            status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    try:
        pending = await asyncio.wait_for(asyncio.to_thread(_pending, svc.settings.database_url),
                                         timeout=5)
    except Exception as exc:  # any failure to reach the database means "not ready"
        body: dict[str, Any] = {"status": "unavailable",
                                "reason": f"database unreachable ({type(exc).__name__})"}
        return JSONResponse(body, status_code=503)
    if pending:
        return JSONResponse({"status": "unavailable", "reason": "migrations pending",
                             "pending": pending}, status_code=503)
    return JSONResponse({"status": "ok", "live_listener": svc.hub.listening.is_set()})


def _pending(url: str) -> list[str]:
    with db.connect(url, app="ioc-api-readyz") as conn:
        return [f"{m.version:03d}_{m.name}" for m in migrate.pending(conn)]


@router.get("/metrics", summary="The API process's own metrics (Prometheus text format)",
            response_class=Response, dependencies=[Depends(require("metrics"))],
            responses={401: {"description": "no valid token"},
                       403: {"description": "an ingest token"}})
async def metrics(svc: Svc) -> Response:
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
