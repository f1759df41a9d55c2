"""HTTP API of the simulated public-service portal / one-stop dossier system."""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from sim.catalogue import AGENCIES, PROCEDURE_BY_CODE, PROCEDURES, PROVINCE_NAME, Procedure
from sim.faults import NationalMismatch
from sim.portal_stats import portal_stats
from sim.queries import parse_window, records_page
from sim.server import answer, error_response, health_response, json_object, json_response
from sim.simulation import Simulation, inflate
from sim.wire import iso


def fold(text: str) -> str:
    """Lower-case text without Vietnamese diacritics, for accent-insensitive search."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()


_FOLDED = [(fold(p.name), p) for p in PROCEDURES]


def procedure_json(p: Procedure) -> dict[str, Any]:
    return {
        "code": p.code,
        "name": p.name,
        "agency_code": p.agency_code,
        "agency_kind": p.agency_kind,
        "level": p.level,
        "deadline_days": p.deadline_days,
        "fee": p.fee,
    }


class PortalApi:
    """Handlers of the portal; every answer reflects the model at the simulated now."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.page),
            web.get("/health", self.health),
            web.get("/api/search", self.search),
            web.get("/api/procedures", self.procedures),
            web.get("/api/agencies", self.agencies),
            web.post("/api/dossiers", self.submit),
            web.get("/api/dossiers", self.dossiers),
            web.get("/api/dossiers/{code}", self.dossier),
            web.get("/api/stats", self.stats),
            web.get("/api/national/count", self.national_count),
        ]

    async def health(self, request: web.Request) -> web.Response:
        return health_response("portal", self.sim.now)

    async def page(self, request: web.Request) -> web.Response:
        today = self._stats({})
        items = "".join(
            f"<li>{html.escape(p.name)} <small>({p.deadline_days} ngày làm việc)</small></li>"
            for p in sorted(PROCEDURES, key=lambda p: -p.weight)[:10]
        )
        t = today["timeliness"]
        finished = t["early"] + t["on_time"] + t["late"]
        rate = f"{100 * (t['early'] + t['on_time']) / finished:.1f}%" if finished else "—"
        body = (
            '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            f"<title>Cổng Dịch vụ công {PROVINCE_NAME}</title></head><body>"
            f"<h1>Cổng Dịch vụ công {PROVINCE_NAME}</h1>"
            "<p>Hệ thống thông tin giải quyết thủ tục hành chính (mô phỏng)</p>"
            '<form action="/api/search"><input name="q" placeholder="Tìm thủ tục hành chính">'
            "<button>Tìm kiếm</button></form>"
            f"<h2>Tình hình giải quyết hồ sơ hôm nay</h2><p>Đã tiếp nhận {today['received']} hồ "
            f"sơ, đã giải quyết {finished}, trước và đúng hạn {rate}.</p>"
            f"<h2>Thủ tục được quan tâm</h2><ul>{items}</ul></body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def search(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "").strip()
        if not query:
            return error_response("q is required, e.g. /api/search?q=khai sinh")
        words = fold(query).split()
        found = [p for name, p in _FOLDED if all(w in name for w in words)]
        return json_response({"query": query, "items": [procedure_json(p) for p in found]})

    async def procedures(self, request: web.Request) -> web.Response:
        return json_response({"items": [procedure_json(p) for p in PROCEDURES]})

    async def agencies(self, request: web.Request) -> web.Response:
        return json_response({"items": [
            {"code": a.code, "name": a.name, "kind": a.kind} for a in AGENCIES
        ]})

    async def submit(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request, '{"procedure_code": "1.001193", "channel": 2}')
        except ValueError as exc:
            return error_response(str(exc))
        proc = PROCEDURE_BY_CODE.get(str(body.get("procedure_code", "")))
        if proc is None:
            return error_response("procedure_code is not in /api/procedures")
        channel = body.get("channel", 2)
        if channel not in (1, 2, 3):
            return error_response("channel must be 1 (in person), 2 (online) or 3 (post)")
        d = self.sim.province.submit_dossier(proc, channel)
        return json_response(d.to_json(), status=201)

    async def dossier(self, request: web.Request) -> web.Response:
        d = self.sim.province.dossier_by_code.get(request.match_info["code"])
        if d is None:
            return error_response("no such dossier", 404)
        return json_response(d.to_json())

    async def dossiers(self, request: web.Request) -> web.Response:
        return answer(lambda: records_page(self.sim.province.logs["portal"], request.query))

    def _stats(self, query: Mapping[str, str]) -> dict[str, Any]:
        province = self.sim.province
        return self.sim.window_stats(
            "portal", query,
            lambda start, end: portal_stats(province.dossiers_between(start, end), province.now),
            total="received",
        )

    async def stats(self, request: web.Request) -> web.Response:
        return answer(lambda: self._stats(request.query))

    async def national_count(self, request: web.Request) -> web.Response:
        return answer(lambda: self._national_count(request.query))

    def _national_count(self, query: Mapping[str, str]) -> dict[str, Any]:
        province = self.sim.province
        start, end = parse_window(query, province.now)
        count = province.national_count(start, end)
        fault = self.sim.board.first("national_mismatch", "portal")
        if fault is not None and isinstance(fault.spec, NationalMismatch):
            count = inflate(len(province.dossiers_between(start, end)), fault.spec.ratio)
        return {"from": iso(start), "to": iso(end), "count": count}
