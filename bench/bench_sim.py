"""How many requests a second the simulated province sustains on one core.

    .venv/bin/python bench/bench_sim.py                 # 7 days of history, 5 s per scenario
    .venv/bin/python bench/bench_sim.py --seconds 10 --concurrency 64 --no-record

The province runs in a child process pinned to CPU 0, on the event loop `ioc sim` uses (uvloop),
with the default mid-size volumes (5,000 dossiers and 4,000 documents a working day); the load
comes from this process pinned to CPU 1, a minimal keep-alive HTTP/1.1 client so that the client
is not what is measured. Figures are
printed and appended to bench/RESULTS.md. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim import SimOptions, run_province  # noqa: E402
from sim.cli import run_async  # noqa: E402

START = datetime(2025, 3, 12, 3, 0, tzinfo=UTC)  # a Wednesday, 10:00 local
COMMAND = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/bench_sim.py",
                                              *sys.argv[1:]])


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


# --- the server (child process) ----------------------------------------------------------------

async def _serve(backfill_days: float) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    opts = SimOptions(seed=1, speed=1.0, backfill_days=backfill_days, start_at=START)
    async with run_province(opts) as province:
        info = {
            "urls": province.urls, "control": province.control_url,
            "backfill_s": round(time.perf_counter() - started, 2),
            "backfill_cpu_s": round(time.process_time() - cpu, 2),
            "dossiers": len(province.model.dossiers),
            "documents": len(province.model.documents),
            "transactions": len(province.model.transactions),
            "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        print(json.dumps(info), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# --- the load (this process) -------------------------------------------------------------------

async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _worker(host: str, port: int, make: Callable[[int], bytes], until: float,
                  counts: list[int], serial: Iterator[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            status = await _one(reader, writer, make(next(serial)))
            counts[0 if 200 <= status < 300 else 1] += 1
    finally:
        writer.close()


def _get(path: str) -> Callable[[int], bytes]:
    request = f"GET {path} HTTP/1.1\r\nHost: sim\r\n\r\n".encode()
    return lambda _: request


def _post(path: str, body: dict[str, object]) -> Callable[[int], bytes]:
    data = json.dumps(body).encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\n\r\n").encode() + data
    return lambda _: request


def _z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _uncached_stats(days: float) -> Callable[[int], bytes]:
    """A different window each time, so every answer is computed from the records."""
    def make(n: int) -> bytes:
        end = START - timedelta(seconds=n + 1)
        path = f"/api/stats?from={_z(end - timedelta(days=days))}&to={_z(end)}"
        return f"GET {path} HTTP/1.1\r\nHost: sim\r\n\r\n".encode()
    return make


def scenarios(urls: dict[str, str]) -> list[tuple[str, str, Callable[[int], bytes]]]:
    day = f"from={_z(START - timedelta(hours=10))}"
    return [
        ("portal GET /health", urls["portal"], _get("/health")),
        ("portal GET /metrics", urls["portal"], _get("/metrics")),
        ("portal GET /api/stats (today, as pollers ask)", urls["portal"],
         _get(f"/api/stats?{day}")),
        ("portal GET /api/stats (1 day, new window each)", urls["portal"], _uncached_stats(1)),
        ("portal GET /api/dossiers?limit=500", urls["portal"], _get("/api/dossiers?limit=500")),
        ("portal POST /api/dossiers (synthetic)", urls["portal"],
         _post("/api/dossiers", {"procedure_code": "1.001193", "channel": 2})),
        ("payments GET /api/stats (today)", urls["payments"], _get(f"/api/stats?{day}")),
        ("payments GET /api/reconciliation/{day}", urls["payments"],
         _get("/api/reconciliation/2025-03-10?side=treasury")),
        ("documents GET /api/stats (today)", urls["documents"], _get(f"/api/stats?{day}")),
    ]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str, make: Callable[[int], bytes], seconds: float, concurrency: int,
                  server_pid: int) -> tuple[float, float, int]:
    """Answers a second of wall time, answers per CPU-second of the server, failures."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    counts = [0, 0]
    cpu = _cpu_seconds(server_pid)
    started = time.perf_counter()
    until = started + seconds
    serial = itertools.count()  # shared, so no two requests ask for the same new window
    await asyncio.gather(*(_worker(host, int(port), make, until, counts, serial)
                           for _ in range(concurrency)))
    wall = time.perf_counter() - started
    used = max(_cpu_seconds(server_pid) - cpu, 1e-3)
    return counts[0] / wall, counts[0] / used, counts[1]


@contextlib.asynccontextmanager
async def server(backfill_days: float) -> AsyncIterator[dict[str, object]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "serve", "--backfill-days", str(backfill_days),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 300)
        yield {**json.loads(line), "pid": proc.pid}
    finally:
        proc.stdin.close()
        proc.terminate()
        await proc.wait()


def _record(lines: list[str]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    section = [f"\n## {stamp} simulated province (bench/bench_sim.py)\n",
               "Machine: 2 cores, 24 GiB; province on one core (CPU 0), load from CPU 1. "
               "req/s is answers per second of wall time; req/CPU-s is answers per second of "
               "the province's own CPU time, i.e. what one core sustains when it has the core "
               "to itself (other work on the machine lowers req/s, not req/CPU-s).  ",
               f"Command: `{COMMAND}`\n", "```", *lines, "```\n"]
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(section))


async def run(args: argparse.Namespace) -> None:
    _pin(1)
    lines = []
    async with server(args.backfill_days) as info:
        lines.append(f"backfill {args.backfill_days:g} days at 5,000 dossiers/working day: "
                     f"{info['backfill_s']} s wall, {info['backfill_cpu_s']} s CPU; "
                     f"{info['dossiers']} dossiers, {info['transactions']} transactions, "
                     f"{info['documents']} documents; peak RSS {info['rss_mb']} MB")
        lines.append(f"load: {args.concurrency} keep-alive connections, {args.seconds:g} s each; "
                     f"1-min load average before: {os.getloadavg()[0]:.2f}")
        lines.append(f"{'scenario':<50} {'req/s':>8} {'req/CPU-s':>10}")
        for name, url, make in scenarios(info["urls"]):  # type: ignore[arg-type]
            rps, per_cpu, errors = await measure(url, make, args.seconds, args.concurrency,
                                                 int(info["pid"]))  # type: ignore[call-overload]
            lines.append(f"{name:<50} {rps:>8.0f} {per_cpu:>10.0f}" + (
                f"  ({errors} errors)" if errors else ""))
            print(lines[-1], flush=True)
    print("\n".join(lines[:2]))
    print(f"command: {COMMAND}")
    if args.record:
        _record(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="load", choices=("load", "serve"))
    parser.add_argument("--backfill-days", type=float, default=7)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-record", dest="record", action="store_false",
                        help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    if args.mode == "serve":
        _pin(0)
        run_async(_serve(args.backfill_days))  # the event loop `ioc sim` runs on
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
