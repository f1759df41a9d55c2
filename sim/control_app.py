"""The control API: inject, list and clear faults; read and steer the simulated clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from sim.faults import parse_duration, parse_spec
from sim.server import error_response, health_response, json_object, json_response
from sim.simulation import Simulation
from sim.wire import iso


class ControlApi:
    """Handlers of the control server (never subject to faults)."""

    def __init__(self, sim: Simulation, urls: Callable[[], dict[str, str]]) -> None:
        self.sim = sim
        self.urls = urls

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.index),
            web.get("/health", self.health),
            web.get("/faults", self.list_faults),
            web.post("/faults", self.add_fault),
            web.delete("/faults", self.clear_faults),
            web.delete("/faults/{id}", self.remove_fault),
            web.get("/clock", self.get_clock),
            web.post("/clock", self.set_clock),
        ]

    async def index(self, request: web.Request) -> web.Response:
        self.sim.sync()
        return json_response({
            "systems": self.urls(),
            "seed": self.sim.seed,
            "clock": self._clock(),
            "faults": len(self.sim.board.active()),
        })

    async def health(self, request: web.Request) -> web.Response:
        self.sim.sync()
        return health_response("control", self.sim.now)

    async def list_faults(self, request: web.Request) -> web.Response:
        self.sim.sync()
        mono = self.sim.board.mono()
        return json_response({"items": [f.to_json(mono) for f in self.sim.board.active()]})

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            spec = parse_spec(await json_object(request, '{"kind": "outage", "system": "portal", '
                                                '"duration": "1m"}'))
        except ValueError as exc:
            return error_response(f"bad fault: {exc}")
        fault = await self.sim.add_fault(spec)
        return json_response(fault.to_json(self.sim.board.mono()), status=201)

    async def remove_fault(self, request: web.Request) -> web.Response:
        fault = self.sim.remove_fault(request.match_info["id"])
        if fault is None:
            return error_response("no active fault with that id", 404)
        return json_response({"removed": fault.id})

    async def clear_faults(self, request: web.Request) -> web.Response:
        return json_response({"removed": [f.id for f in self.sim.clear_faults()]})

    def _clock(self) -> dict[str, Any]:
        return {"now": iso(self.sim.now), "speed": self.sim.clock.speed}

    async def get_clock(self, request: web.Request) -> web.Response:
        self.sim.sync()
        return json_response(self._clock())

    async def set_clock(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request, '{"speed": 60, "advance": "1h"}')
            if not set(body) <= {"speed", "advance"}:
                raise ValueError('send {"speed": 60} and/or {"advance": "1h"}')
            speed = body.get("speed")
            if speed is not None and (not isinstance(speed, int | float) or speed < 0):
                raise ValueError("speed must be a number >= 0 (0 freezes the clock)")
            advance = parse_duration(body["advance"]) if "advance" in body else None
        except ValueError as exc:
            return error_response(str(exc))
        self.sim.sync()
        if speed is not None:
            self.sim.clock.set_speed(float(speed))
        if advance is not None:
            self.sim.clock.advance(advance)
        self.sim.sync()
        return json_response(self._clock())
