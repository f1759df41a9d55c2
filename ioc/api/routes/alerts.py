"""Alerts (list, filter, acknowledge), silences (create, list, expire) and on-call now."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from ioc.api.auth import Principal, require
from ioc.api.deps import Conn, Svc
from ioc.api.models import Alert, OnCall, Silence, SilenceCreate
from ioc.api.sources import alerts as source

router = APIRouter(tags=["alerts"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
AlertState = Literal["pending", "firing", "resolved"]


@router.get("/alerts", response_model=list[Alert], summary="Alerts, newest first")
async def list_alerts(
    _: Viewer, conn: Conn,
    state: Annotated[list[AlertState] | None, Query(description="default: pending, firing")]
    = None,
    severity: Annotated[Literal["critical", "warning", "info"] | None, Query()] = None,
    system: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return await source.list_alerts(conn, states=list(state or ["pending", "firing"]),
                                    severity=severity, system=system, limit=limit)


@router.post("/alerts/{fingerprint}/ack", response_model=Alert,
             summary="Acknowledge a firing alert (stops escalation)",
             responses={404: {"description": "no such alert"},
                        409: {"description": "the alert is not firing"}})
async def acknowledge(who: Operator, conn: Conn, svc: Svc,
                      fingerprint: Annotated[str, Path(max_length=200)]) -> dict[str, Any]:
    try:
        row = await source.acknowledge(conn, fingerprint, who.name, svc.clock())
    except source.AlertConflict as exc:
        raise HTTPException(409, str(exc)) from None
    if row is None:
        raise HTTPException(404, "no alert with this fingerprint")
    return row


@router.get("/silences", response_model=list[Silence],
            summary="Silences in force or to come, newest first")
async def list_silences(_: Viewer, conn: Conn, svc: Svc,
                        include_expired: Annotated[bool, Query(description="also ended ones")]
                        = False,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
    return await source.list_silences(conn, svc.clock(), include_expired=include_expired,
                                      limit=limit)


@router.post("/silences", response_model=Silence, status_code=201, summary="Create a silence")
async def create_silence(who: Operator, conn: Conn, svc: Svc,
                         body: SilenceCreate) -> dict[str, Any]:
    now = svc.clock()
    try:
        starts_at, ends_at = body.window(now)
        return await source.create_silence(
            conn, matchers=[m.model_dump() for m in body.matchers], starts_at=starts_at,
            ends_at=ends_at, created_by=who.name, comment=body.comment, now=now)
    except (ValueError, OverflowError) as exc:  # SilenceError is a ValueError
        raise HTTPException(422, str(exc)) from None


@router.post("/silences/{silence_id}/expire", response_model=Silence,
             summary="End a silence now")
async def expire_silence(_: Operator, conn: Conn, svc: Svc,
                         silence_id: Annotated[int, Path(ge=1, le=2**62)]) -> dict[str, Any]:
    row = await source.expire_silence(conn, silence_id, svc.clock())
    if row is None:
        raise HTTPException(404, "no such silence")
    return row


@router.get("/oncall", response_model=list[OnCall], summary="Who is on call now")
async def on_call(_: Viewer, svc: Svc) -> list[dict[str, Any]]:
    return source.on_call(svc.config, svc.clock())
