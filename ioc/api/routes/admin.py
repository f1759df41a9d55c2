"""Reports (list, download), push ingestion, tokens and who-am-I."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from ioc.api import tokens
from ioc.api.auth import Principal, require
from ioc.api.deps import Conn, Svc
from ioc.api.models import (
    ConfigState,
    Me,
    PushRequest,
    PushResult,
    Report,
    TokenCreate,
    TokenCreated,
    TokenInfo,
)
from ioc.api.sources import ingest as ingest_source
from ioc.api.sources import reports as report_source

router = APIRouter()
Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Ingest = Annotated[Principal, Depends(require("ingest"))]


@router.get("/me", response_model=Me, tags=["tokens"], summary="The calling token's name and role")
async def me(who: Viewer) -> dict[str, Any]:
    return {"name": who.name, "role": who.role}


@router.get("/reports", response_model=list[Report], tags=["reports"],
            summary="Weekly reports, newest first")
async def list_reports(_: Viewer, conn: Conn,
                       limit: Annotated[int, Query(ge=1, le=500)] = 52) -> list[dict[str, Any]]:
    return await report_source.list_reports(conn, limit)


@router.get("/reports/{report_id}", tags=["reports"], summary="Download a weekly report",
            response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "text/html": {}}}})
async def download_report(_: Viewer, conn: Conn,
                          report_id: Annotated[int, Path(ge=1, le=2**62)],
                          format: Literal["pdf", "html"] = "pdf") -> Response:
    found = await report_source.fetch_report(conn, report_id, format)
    if found is None:
        raise HTTPException(404, "no such report in this format")
    body, media = found
    name = f"ioc-report-{report_id}.{format}"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/push", response_model=PushResult, tags=["ingest"],
             summary="Push samples from a system that sends its own",
             responses={403: {"description": "no push target uses this token's name"},
                        422: {"description": "refused, with every problem listed"}})
async def push(who: Ingest, conn: Conn, svc: Svc, body: PushRequest) -> dict[str, int]:
    try:
        target = ingest_source.target_for(svc.config, who.name)
        payload = body.model_dump(mode="json", exclude_none=True)
        stored = await ingest_source.ingest(conn, target, payload, svc.clock())
    except ingest_source.NoPushTarget as exc:
        raise HTTPException(403, str(exc)) from None
    except ingest_source.PushRefused as exc:
        raise HTTPException(422, exc.problems) from None
    return {"stored": stored}


@router.get("/tokens", response_model=list[TokenInfo], tags=["tokens"], summary="List tokens")
async def list_tokens(_: Admin, conn: Conn,
                      include_revoked: bool = False) -> list[dict[str, Any]]:
    return [dataclasses.asdict(t) for t in await tokens.list_all(
        conn, include_revoked=include_revoked)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"],
             summary="Create a token (its secret is returned only now)")
async def create_token(_: Admin, conn: Conn, svc: Svc, body: TokenCreate) -> dict[str, Any]:
    try:
        token, secret = await tokens.create(conn, body.name, body.role, svc.clock())
    except tokens.TokenError as exc:
        raise HTTPException(409, str(exc)) from None
    return {**dataclasses.asdict(token), "token": secret}


@router.delete("/tokens/{token_id}", response_model=TokenInfo, tags=["tokens"],
               summary="Revoke a token (effective immediately, live feeds included)")
async def revoke_token(_: Admin, conn: Conn, svc: Svc,
                       token_id: Annotated[int, Path(ge=1, le=2**62)]) -> dict[str, Any]:
    try:
        return dataclasses.asdict(await tokens.revoke(conn, token_id, svc.clock()))
    except tokens.TokenError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/config", response_model=ConfigState, tags=["config"],
            summary="The province config in use (a summary: no addresses or secrets)")
async def config_state(_: Admin, svc: Svc) -> dict[str, Any]:
    cfg = svc.config()
    if cfg is None:
        raise HTTPException(404, "this API process runs without a province config")
    return {"summary": cfg.summary(), "changed": False, "errors": []}


@router.post("/config/reload", response_model=ConfigState, tags=["config"],
             summary="Reload the province config from its directory (kept if invalid)")
async def config_reload(_: Admin, svc: Svc) -> dict[str, Any]:
    if svc.reload_config is None:
        raise HTTPException(404, "this API process runs without a config directory")
    result = await asyncio.to_thread(svc.reload_config)
    return {"summary": result.config.summary(), "changed": result.changed,
            "errors": [str(e) for e in result.errors]}
