"""Benchmark: the live feed's fan-out and the REST status endpoint.

Builds a scratch database (migrated; `--targets` probe targets over three systems with an hour of
15 s probes), creates a viewer token, and runs `ioc serve` as a separate process. Then
  - live feed: `--clients` websocket clients (default 1,000) connect; each round sends one
    `NOTIFY ioc_events` (an alert event, so the API reads the open alerts and publishes them) and
    times NOTIFY -> the last client receiving the message; p50/p95 over `--rounds` rounds, goal
    p95 < 500 ms. Every delivery (all clients, all rounds) is reported too.
  - REST: GET /api/v1/status at `--rate` requests/s (open loop, default 200) for `--seconds`;
    p50/p95/p99 latency, goal p95 < 50 ms.
Clients and server share this machine's CPUs, so figures include the clients' own work.
Run: IOC_DATABASE_URL=... .venv/bin/python bench/bench_api.py [--clients 1000] [--rounds 30]
     [--rate 200] [--seconds 20] [--targets 60] [--only rest|live]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import websockets
from bench_collectors import scratch_db  # the scratch database helper of the benchmarks
from websockets.typing import Subprotocol

from ioc import db
from ioc.api import tokens
from ioc.settings import PROJECT_ROOT

TARGETS_SQL = """
INSERT INTO targets (id, system, kind, name, interval_s)
SELECT 'bench-' || i, (ARRAY['portal', 'payments', 'documents'])[1 + i %% 3], 'http',
       'bench ' || i, 15 FROM generate_series(1, %s) i ON CONFLICT DO NOTHING"""
PROBES_SQL = """
INSERT INTO probe_results (time, target_id, ok, reason, duration_ms)
SELECT now() - k * interval '15 seconds', 'bench-' || i, k %% 97 <> 0,
       CASE WHEN k %% 97 = 0 THEN 'timeout' END, 80 + (i * k) %% 400
  FROM generate_series(1, %s) i, generate_series(0, 239) k ON CONFLICT DO NOTHING"""


LOG = Path(tempfile.gettempdir()) / "ioc-bench-api-serve.log"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def seed(url: str, targets: int) -> None:
    with db.connect(url) as conn:
        for statement in (TARGETS_SQL, PROBES_SQL):
            conn.execute(statement.encode(), (targets,))


async def make_token(url: str) -> str:
    async with await db.connect_async(url) as conn:
        _, secret = await tokens.create(conn, "bench", "viewer", datetime.now(UTC))
    return secret


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "IOC_DATABASE_URL": url, "IOC_CONFIG_DIR": str(PROJECT_ROOT / "config")}
    log = LOG.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc.cli", "serve", "--port", str(port)], env=env,
        stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("ioc serve did not become ready within 60 s")


async def live_feed(base: str, url: str, secret: str, clients: int, rounds: int) -> None:
    ws_url = base.replace("http", "ws", 1) + "/ws/live"
    conns = []
    protocols = [Subprotocol("ioc.v1"), Subprotocol(f"bearer.{secret}")]
    for _ in range(clients):
        ws = await websockets.connect(ws_url, subprotocols=protocols, max_queue=None,
                                      ping_interval=None)
        await ws.recv()  # snapshot
        conns.append(ws)
    print(f"live feed: {clients} clients connected", flush=True)
    last: list[float] = []
    every: list[float] = []
    async with await db.connect_async(url) as notifier:
        for i in range(rounds):
            waits = [asyncio.create_task(_next_alerts(ws)) for ws in conns]
            await asyncio.sleep(0.05)
            sent = time.perf_counter()
            await notifier.execute("SELECT pg_notify('ioc_events', %s)",
                                   (json.dumps({"type": "alert", "bench": i}),))
            arrived = await asyncio.gather(*waits)
            delays = [(t - sent) * 1000 for t in arrived]
            last.append(max(delays))
            every.extend(delays)
            await asyncio.sleep(0.3)
    for ws in conns:
        await ws.close()
    print(f"  NOTIFY -> last of {clients} clients, {rounds} rounds: "
          f"p50 {pct(last, 0.5):.0f} ms, p95 {pct(last, 0.95):.0f} ms, max {max(last):.0f} ms "
          f"(goal p95 < 500 ms)")
    print(f"  NOTIFY -> each client ({len(every)} deliveries): p50 {pct(every, 0.5):.0f} ms, "
          f"p95 {pct(every, 0.95):.0f} ms", flush=True)


async def _next_alerts(ws: websockets.ClientConnection) -> float:
    while True:
        msg = await ws.recv()
        if '"type":"alerts"' in str(msg)[:40]:
            return time.perf_counter()


async def rest_status(base: str, secret: str, rate: int, seconds: float) -> None:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base, connector=connector,
                                     headers={"Authorization": f"Bearer {secret}"}) as session:
        async def one() -> None:
            nonlocal errors
            start = time.perf_counter()
            async with session.get("/api/v1/status") as resp:
                await resp.read()
                errors += resp.status != 200
            latencies.append((time.perf_counter() - start) * 1000)

        for _ in range(20):  # warm the connection pool and the server
            await one()
        latencies.clear()
        tasks = []
        begin = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        took = time.perf_counter() - begin
    print(f"REST GET /api/v1/status, {len(latencies)} requests at {len(latencies) / took:.0f}/s "
          f"(asked {rate}/s), {errors} errors: p50 {pct(latencies, 0.5):.1f} ms, "
          f"p95 {pct(latencies, 0.95):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, "
          f"mean {statistics.fmean(latencies):.1f} ms (goal p95 < 50 ms)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--targets", type=int, default=60)
    parser.add_argument("--only", choices=("rest", "live"), help="run one of the two parts")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.clients)), hard))
    if not os.environ.get("IOC_DATABASE_URL"):
        raise SystemExit("set IOC_DATABASE_URL (e.g. `set -a; . .ioc/env; set +a`)")
    with scratch_db() as [url]:
        seed(url, args.targets)
        secret = asyncio.run(make_token(url))
        proc, base = start_server(url)
        try:
            print(f"bench_api: ioc serve at {base}, {args.targets} targets, "
                  f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
            if args.only != "live":
                asyncio.run(rest_status(base, secret, args.rate, args.seconds))
            if args.only != "rest":
                asyncio.run(live_feed(base, url, secret, args.clients, args.rounds))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"server log: {LOG}")
    print(f"command: IOC_DATABASE_URL=... {Path(sys.executable).name} bench/bench_api.py "
          + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
