"""`ioc demo`: the whole centre on the simulated province, in one command.

Starts, as child processes: the notification inbox (ioc.inbox: the webhook receiver and SMTP
server the example channels point at, and a page showing what they received), the simulated
province (with days of history), the collectors, the alert engine and the API; waits until the
wall page has live data; prints where to look.

Ctrl-C, SIGTERM and SIGHUP (the terminal closed) stop the children in reverse order, each with
SIGTERM first so the collectors flush or spool what they hold. The children run in their own
sessions (a Ctrl-C in the terminal reaches only the demo, which then stops them in order), so
they would outlive a demo killed with SIGKILL: on Linux each asks the kernel for SIGTERM when its
parent dies (prctl PR_SET_PDEATHSIG), which needs no code in the children and covers every way
the demo can die, including an out-of-memory kill.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from ioc import db, db_roles, history, migrate
from ioc.api import tokens
from ioc.config import load_config
from ioc.config_sync import sync_config
from ioc.db_cli import write_private
from ioc.demo_push import DocumentPusher
from ioc.settings import redact_url, settings_or_exit

STEPS = 6
DEFAULT_SIM_PORT_BASE = 18080
INBOX_PORT_OFFSET = 10  # the inbox page and webhook: 18090, as config/channels.yaml expects
SMTP_PORT_OFFSET = 11  # with the default base the inbox's SMTP is on 1025 (channels.yaml)
DEFAULT_SMTP_PORT = 1025
DEMO_TOKEN_NAME = "demo-wall"  # noqa: S105 - a label, not a secret
PUSH_TOKEN_NAME = "documents-push"  # noqa: S105 - the push target's token_name in config/
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole centre on the simulated province",
        description="Start the simulated province, collectors, alert engine and API; print the "
        "wall page URL, the API docs and a viewer token. Ctrl-C stops everything.",
    )
    p.add_argument("--port", type=int, default=8080, help="API and wall page port (8080)")
    p.add_argument("--sim-port-base", type=int, default=DEFAULT_SIM_PORT_BASE,
                   help="first of four simulator ports: control, portal, payments, documents; "
                   "the notification inbox listens on base+10 (page and webhook) and on "
                   "base+11 for SMTP (1025 with the default base)")
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
                                start_new_session=True, preexec_fn=_die_with_parent())
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
                    _tell(f"  {name} did not stop in 15 s; killing it")
                    proc.kill()
                    proc.wait()


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when the demo dies (even by SIGKILL).

    Children are started from the main thread before any other thread exists (the death signal
    follows the thread that forked, and a preexec_fn is only safe without threads).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the demo died before the request was made
            os._exit(1)

    return arm


class Stopped(BaseException):
    """A signal asked the demo to stop (raised from the handler, so start-up stops too)."""


def _on_stop_signal(signum: int, frame: object) -> None:
    for sig in STOP_SIGNALS:  # one stop: a second signal does not interrupt the stopping
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signal.Signals(signum).name)


def _tell(text: str) -> None:
    """Print, unless the terminal is gone (SIGHUP): stopping the children matters more."""
    try:
        print(text, flush=True)
    except OSError:
        pass


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
    inbox = plan_inbox(base, os.environ)
    env.update(inbox.env)
    children = Children(log_dir=settings.state_dir / "logs")
    logins: dict[str, str] = {}
    for sig in STOP_SIGNALS:
        signal.signal(sig, _on_stop_signal)
    try:
        _say(1, f"database {redact_url(settings.database_url)}: applying migrations")
        with db.connect(settings.database_url) as conn:
            migrate.migrate(conn)
        _say(2, f"checking the province config in {config_dir}")
        check = subprocess.run([*_ioc(), "config", "check", str(config_dir)], env=env,
                               check=False)
        if check.returncode != 0:
            return check.returncode
        with db.connect(settings.database_url) as conn:  # the config's copy, as `ioc db migrate`
            print(f"      {sync_config(conn, load_config(config_dir, env))}", flush=True)
            logins = _process_logins(conn, settings.database_url, settings.state_dir)
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
        _say(4, "starting the notification inbox, the collectors and the alert engine")
        if inbox.argv:
            children.start("inbox", [sys.executable, "-m", "ioc.inbox", *inbox.argv], env)
            if not _wait_http(inbox.url, 30, children):
                return _failed(children, "inbox")
        metrics_port = base + 1000  # self-metrics (loopback): collector, then alert engine
        children.start("collector", [*_ioc(), "collect", "--metrics-port", str(metrics_port)],
                       {**env, "IOC_DATABASE_URL": logins["collector"]})
        children.start("alerts", [*_ioc(), "alerts", "--metrics-port", str(metrics_port + 1)],
                       {**env, "IOC_DATABASE_URL": logins["engine"]})
        _say(5, f"starting the API and wall page on port {args.port}")
        children.start("api", [*_ioc(), "serve", "--port", str(args.port)],
                       {**env, "IOC_DATABASE_URL": logins["api"]})
        if not _wait_http(f"http://127.0.0.1:{args.port}/readyz", 60, children):
            return _failed(children, "api")
        token = _new_token(settings.database_url, DEMO_TOKEN_NAME, "viewer")
        pusher = DocumentPusher(f"http://127.0.0.1:{base + 3}", f"http://127.0.0.1:{args.port}",
                                _new_token(settings.database_url, PUSH_TOKEN_NAME, "ingest"))
        pusher.push_once(datetime.now(UTC))  # a first push before the wall is announced
        pusher.start()
        _say(6, f"live in {time.monotonic() - started:.0f} s")
        _banner(args.port, base, token, settings.state_dir / "logs", inbox)
        if args.exit_when_live:
            return 0
        while True:
            dead = children.check()
            if dead:
                return _failed(children, dead)
            time.sleep(0.5)
    except (KeyboardInterrupt, Stopped):
        return 0
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if children.procs:
            _tell("\nstopping …")
        children.stop()
        if logins:
            _drop_process_logins(settings.database_url)


def _process_logins(conn: psycopg.Connection, admin_url: str, state_dir: Path) -> dict[str, str]:
    """Fresh logins of the collector, engine and API roles (ioc/db_roles.py), so that no child
    is a database superuser; their connection strings are kept in the state directory (0600)
    for a look with psql, and the logins are dropped when the demo stops."""
    logins = db_roles.create_logins(conn, admin_url)
    write_private(state_dir / "db-logins.env", "\n".join(db_roles.env_lines(logins)) + "\n")
    return {login.process: login.conninfo for login in logins}


def _drop_process_logins(admin_url: str) -> None:
    """Drop the demo's logins (best effort: the next demo sets new passwords anyway)."""
    try:
        with db.connect(admin_url) as conn:
            db_roles.drop_logins(conn)
    except psycopg.Error as exc:
        _tell(f"  the database logins stay ({type(exc).__name__}); the next demo replaces them")


@dataclass(frozen=True)
class InboxPlan:
    """Which sides of the notification inbox the demo runs, and what the children are told."""

    url: str
    """The inbox page ('' when the user's own servers take both channels)."""
    argv: tuple[str, ...]
    """Arguments of `python -m ioc.inbox` (empty: no inbox)."""
    env: dict[str, str]
    own: tuple[str, ...]
    """The user's own variables the demo respected."""


def plan_inbox(base: int, environ: Mapping[str, str]) -> InboxPlan:
    """Ports derived from the simulator's base; a side the user pointed elsewhere is not run.

    config/channels.yaml reads IOC_WEBHOOK_URL and IOC_SMTP_HOST/IOC_SMTP_PORT; if the user set
    them (a real SMTP server, their own receiver) the demo leaves them and that side alone.
    """
    http_port = base + INBOX_PORT_OFFSET
    smtp_port = DEFAULT_SMTP_PORT if base == DEFAULT_SIM_PORT_BASE else base + SMTP_PORT_OFFSET
    env: dict[str, str] = {}
    argv = ["--http-port", str(http_port)]
    own_webhook = bool(environ.get("IOC_WEBHOOK_URL"))
    own_smtp = [v for v in ("IOC_SMTP_HOST", "IOC_SMTP_PORT") if environ.get(v)]
    if own_webhook:
        argv.append("--no-webhook")
    else:
        env["IOC_WEBHOOK_URL"] = f"http://127.0.0.1:{http_port}/hooks/ioc"
    if not own_smtp:
        env.update(IOC_SMTP_HOST="127.0.0.1", IOC_SMTP_PORT=str(smtp_port))
        argv += ["--smtp-port", str(smtp_port)]
    own = (("IOC_WEBHOOK_URL",) if own_webhook else ()) + tuple(own_smtp)
    if own_webhook and own_smtp:
        return InboxPlan("", (), env, own)
    return InboxPlan(f"http://127.0.0.1:{http_port}/", tuple(argv), env, own)


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


def _banner(port: int, base: int, token: str, logs: Path, inbox: InboxPlan) -> None:
    if inbox.url:
        notes = f"""  Notifications (e-mail and webhook received by the demo):
                           {inbox.url}   (English: {inbox.url}?lang=en)"""
    else:
        notes = "  Notifications:           to your own servers"
    if inbox.own:
        notes += f"\n                           ({', '.join(inbox.own)} set: yours, used as set)"
    print(f"""
  Wall page (Vietnamese):  http://127.0.0.1:{port}/wall#token={token}
  Wall page (English):     http://127.0.0.1:{port}/wall?lang=en#token={token}
  API documentation:       http://127.0.0.1:{port}/docs
  Viewer token:            {token}
  Simulator control:       http://127.0.0.1:{base}/faults
{notes}

  Trigger a fault (the portal goes down for 2 minutes):
      .venv/bin/ioc sim fault add outage --system portal --duration 2m --control-url http://127.0.0.1:{base}
  then watch the wall turn red, the alert's e-mail and webhook arrive in the inbox (with a
  one-click acknowledgement link), and the resolution once the portal is back.
  Weekly report:
      .venv/bin/ioc report weekly --format pdf --out report.pdf
  Logs: {logs}/        Ctrl-C stops everything.
""", flush=True)
