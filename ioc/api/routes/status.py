"""Status of systems and targets, time series and KPI values for a window."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from ioc import export
from ioc.api.auth import require
from ioc.api.deps import Conn, Svc, Window
from ioc.api.models import (
    KpiResponse,
    ProbePoint,
    Series,
    StatusResponse,
    SystemStatus,
    TargetStatus,
)
from ioc.api.sources import kpi as kpi_source
from ioc.api.sources import series as series_source

router = APIRouter(tags=["status"], dependencies=[Depends(require("viewer"))])
# Status is judged from probes seconds apart: answers up to a second old are as good as fresh.
STATUS_MAX_AGE_S = 1.0
Step = Annotated[series_source.Step, Query(description="rollup resolution")]


@router.get("/status", response_model=StatusResponse,
            summary="Status of every system (as of at most a second ago)")
async def all_status(svc: Svc) -> dict[str, Any]:
    now = svc.clock()
    return {"at": now, "systems": await svc.status.systems(now, max_age_s=STATUS_MAX_AGE_S)}


@router.get("/status/{system}", response_model=SystemStatus, summary="Status of one system")
async def one_status(svc: Svc, system: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
    for doc in await svc.status.systems(svc.clock(), max_age_s=STATUS_MAX_AGE_S):
        if doc["system"] == system:
            return doc
    raise HTTPException(404, f"unknown system {system!r}")


@router.get("/targets", response_model=list[TargetStatus], summary="Targets with their status")
async def targets(svc: Svc, system: Annotated[str | None, Query(max_length=100)] = None
                  ) -> list[dict[str, Any]]:
    return await svc.status.targets(svc.clock(), system)


@router.get("/targets/{target_id}/series", response_model=list[ProbePoint],
            summary="A target's probes and latency per minute or hour")
async def target_series(conn: Conn, window: Window,
                        target_id: Annotated[str, Path(max_length=200)],
                        step: Step = "1m") -> list[dict[str, Any]]:
    if not await series_source.target_exists(conn, target_id):
        raise HTTPException(404, f"unknown target {target_id!r}")
    return await series_source.probe_series(conn, target_id, *window, step)


@router.get("/series", response_model=list[Series], summary="Metric series matching a name")
async def series(conn: Conn, window: Window, name: Annotated[str, Query(max_length=200)],
                 labels: Annotated[str, Query(max_length=2000, description='JSON, e.g. '
                                              '{"system":"portal"}')] = "{}",
                 step: Step = "1m", limit: Annotated[int, Query(ge=1, le=100)] = 20
                 ) -> list[dict[str, Any]]:
    wanted = _json_object(labels, "labels")
    if not all(isinstance(v, str) for v in wanted.values()):
        raise HTTPException(422, "label values must be strings")
    return await series_source.sample_series(conn, name, wanted, *window, step, limit)


@router.get("/kpis", summary="The KPI catalogue (names, units, targets)")
async def kpi_definitions(conn: Conn) -> list[dict[str, Any]]:
    return await kpi_source.definitions(conn)


@router.get("/kpis/{kpi}", response_model=KpiResponse, response_model_by_alias=True,
            summary="A KPI's value for a window, from ioc_kpi (the one definition)",
            responses={200: {"content": {export.XLSX_MEDIA_TYPE: {}, "text/csv": {}},
                             "description": "JSON, or with format=xlsx|csv a workbook (a sheet "
                             "of values, a notes sheet with the window and the definition) or "
                             "CSV (UTF-8 with BOM; vi: `;` and decimal commas)"}})
async def kpi_value(conn: Conn, window: Window, kpi: Annotated[str, Path(max_length=100)],
                    filter: Annotated[str, Query(max_length=2000, description='JSON, e.g. '
                                                 '{"system":"portal"}')] = "{}",
                    format: Literal["json", "xlsx", "csv"] = "json",
                    lang: Annotated[Literal["vi", "en"], Query(
                        description="headers of xlsx/csv")] = "vi") -> Any:
    wanted = _json_object(filter, "filter")
    try:
        rows = await kpi_source.read(conn, kpi, *window, wanted)
    except kpi_source.KpiRefused as exc:
        raise HTTPException(404 if exc.unknown else 422, str(exc)) from None
    if format == "json":
        return {"kpi": kpi, "from": window[0], "to": window[1], "values": rows}
    spec = export.kpi_export(kpi, rows, await kpi_source.definitions(conn), window, wanted, lang,
                             await export.label_names_async(conn, rows))
    body = export.render(spec, format)
    name = f"{kpi}_{window[0]:%Y%m%dT%H%M}_{window[1]:%Y%m%dT%H%M}.{format}"
    return Response(body, media_type=export.XLSX_MEDIA_TYPE if format == "xlsx"
                    else export.CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise HTTPException(422, f"{what} must be a JSON object") from None
    if not isinstance(value, dict):
        raise HTTPException(422, f"{what} must be a JSON object")
    return value
