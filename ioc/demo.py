"""`ioc demo`: the whole centre on the simulated province, in one command.

Starts, as child processes: the simulated province (with days of history), the collectors, the
alert engine and the API; waits until the wall page has live data; prints where to look. Ctrl-C
(or SIGTERM) stops the children in reverse order, each with SIGTERM first so the collectors flush
or spool what they hold.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from ioc import db, history, migrate
from ioc.api import tokens
from ioc.config import load_config
from ioc.demo_push import DocumentPusher
from ioc.settings import redact_url, settings_or_exit

STEPS = 6
DEMO_TOKEN_NAME = "demo-wall"  # noqa: S105 - a label, not a secret
PUSH_TOKEN_NAME = "documents-push"  # noqa: S105 - the push target's token_name in config/


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole centre on the simulated province",
        description="Start the simulated province, collectors, alert engine and API; print the "
        "wall page URL, the API docs and a viewer token. Ctrl-C stops everything.",
    )
    p.add_argument("--port", type=int, default=8080, help="API and wall page port (8080)")
    p.add_argument("--sim-port-base", type=int, default=18080,
                   help="first of four simulator ports: control, portal, payments, documents")
    p.add_argument("--backfill-days", type=int, default=7,
                   help="days of simulated history to create before going live (7)")
    p.add_argument("--seed", type=int, default=2026, help="simulation seed")
    p.add_argument("--config", type=Path, default=None, help="province config directory")
    p.add_argument("--exit-when-live", action="store_true",
                   help="stop once the wall has live data (for timing the cold start)")
    p.set_defaults(func=cmd_demo)


@dataclass
class Children:
    """The centre's processes, stopped in reverse order of start."""

    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    log_dir: Path = Path(".ioc/logs")

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def check(self) -> str | None:
        """The name of a child that has exited, if any."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    print(f"  {name} did not stop in 15 s; killing it")
                    proc.kill()
                    proc.wait()


def _say(n: int, text: str) -> None:
    print(f"[{n}/{STEPS}] {text}", flush=True)


def _wait_http(url: str, timeout: float, children: Children) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children.check():
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
                return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    return False


def _ioc() -> list[str]:
    return [sys.executable, "-m", "ioc.cli"]


def cmd_demo(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    started = time.monotonic()
    config_dir = args.config or settings.config_dir
    base = args.sim_port_base
    env = dict(os.environ)
    env.update({
        "IOC_CONFIG_DIR": str(config_dir),
        "IOC_SIM_PORTAL_URL": f"http://127.0.0.1:{base + 1}",
        "IOC_SIM_PAYMENTS_URL": f"http://127.0.0.1:{base + 2}",
        "IOC_SIM_DOCUMENTS_URL": f"http://127.0.0.1:{base + 3}",
        "IOC_API_PORT": str(args.port),
        "IOC_PUBLIC_URL": f"http://127.0.0.1:{args.port}",
    })
    _say(1, f"database {redact_url(settings.database_url)}: applying migrations")
    with db.connect(settings.database_url) as conn:
        migrate.migrate(conn)
    _say(2, f"checking the province config in {config_dir}")
    check = subprocess.run([*_ioc(), "config", "check", str(config_dir)], env=env, check=False)
    if check.returncode != 0:
        return check.returncode
    children = Children(log_dir=settings.state_dir / "logs")
    stop_now = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop_now
        stop_now = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        _say(3, f"starting the simulated province with {args.backfill_days} days of history")
        children.start("sim", [*_ioc(), "sim", "--port-base", str(base), "--seed",
                               str(args.seed), "--backfill-days", str(args.backfill_days)], env)
        if not _wait_http(f"http://127.0.0.1:{base + 1}/health", 120, children):
            return _failed(children, "sim")
        try:
            _backfill_history(settings.database_url, config_dir, args.backfill_days, args.seed)
        except psycopg.Error as exc:
            print(f"error: the database went away while writing the history "
                  f"({type(exc).__name__}); start the demo again: what was written is kept",
                  file=sys.stderr)
            return 1
        _say(4, "starting the collectors and the alert engine")
        metrics_port = base + 1000  # self-metrics (loopback): collector, then alert engine
        children.start("collector", [*_ioc(), "collect", "--metrics-port", str(metrics_port)],
                       env)
        children.start("alerts", [*_ioc(), "alerts", "--metrics-port", str(metrics_port + 1)],
                       env)
        _say(5, f"starting the API and wall page on port {args.port}")
        children.start("api", [*_ioc(), "serve", "--port", str(args.port)], env)
        if not _wait_http(f"http://127.0.0.1:{args.port}/readyz", 60, children):
            return _failed(children, "api")
        token = _new_token(settings.database_url, DEMO_TOKEN_NAME, "viewer")
        pusher = DocumentPusher(f"http://127.0.0.1:{base + 3}", f"http://127.0.0.1:{args.port}",
                                _new_token(settings.database_url, PUSH_TOKEN_NAME, "ingest"))
        pusher.push_once(datetime.now(UTC))  # a first push before the wall is announced
        pusher.start()
        _say(6, f"live in {time.monotonic() - started:.0f} s")
        _banner(args.port, base, token, settings.state_dir / "logs")
        if args.exit_when_live:
            return 0
        while not stop_now:
            dead = children.check()
            if dead:
                return _failed(children, dead)
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        print("\nstopping …", flush=True)
        children.stop()


def _backfill_history(url: str, config_dir: Path, days: int, seed: int) -> None:
    """Fill the probe history between the newest stored result (or N days ago) and now."""
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=days)
    with db.connect(url) as conn:
        row = conn.execute("SELECT max(time) FROM probe_results").fetchone()
    if row and row[0] and row[0] > start:
        start = row[0] + timedelta(seconds=1)
    if end - start < timedelta(minutes=5):
        return
    print(f"      writing probe history {start:%Y-%m-%d %H:%M} .. {end:%H:%M} UTC", flush=True)
    n = asyncio.run(history.backfill(url, load_config(config_dir), start, end, seed))
    print(f"      {n:,} probe results written", flush=True)


def _new_token(url: str, name: str, role: str) -> str:
    """A fresh token for the demo; the previous demo's token of that name is revoked."""

    async def run() -> str:
        conn = await db.connect_async(url, app="ioc-demo")
        try:
            now = datetime.now(UTC)
            for old in await tokens.list_all(conn):
                if old.name == name:
                    await tokens.revoke(conn, old.id, now)
            _token, secret = await tokens.create(conn, name, role, now)
            return secret
        finally:
            await conn.close()

    return asyncio.run(run())


def _failed(children: Children, name: str) -> int:
    log = children.log_dir / f"{name}.log"
    print(f"error: {name} did not start; the end of {log}:", file=sys.stderr)
    try:
        print("".join(log.read_text(errors="replace").splitlines(True)[-15:]), file=sys.stderr)
    except OSError:
        pass
    return 1


def _banner(port: int, base: int, token: str, logs: Path) -> None:
    print(f"""
  Wall page (Vietnamese):  http://127.0.0.1:{port}/wall#token={token}
  Wall page (English):     http://127.0.0.1:{port}/wall?lang=en#token={token}
  API documentation:       http://127.0.0.1:{port}/docs
  Viewer token:            {token}
  Simulator control:       http://127.0.0.1:{base}/faults

  Trigger a fault (the portal goes down for 2 minutes):
      .venv/bin/ioc sim fault add outage --system portal --duration 2m --control-url http://127.0.0.1:{base}
  Weekly report:
      .venv/bin/ioc report weekly --format pdf --out report.pdf
  Logs: {logs}/        Ctrl-C stops everything.
""", flush=True)
