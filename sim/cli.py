"""`ioc sim`: run the simulated province; `ioc sim fault|clock ...`: steer a running one."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from sim.faults import KINDS, SYSTEMS
from sim.province import Volumes
from sim.runner import DEFAULT_PORT_BASE, SimOptions, ports_from_base, run_province
from sim.wire import parse_time

DEFAULT_CONTROL_URL = f"http://127.0.0.1:{DEFAULT_PORT_BASE}"
HTTP_TIMEOUT_S = 10


class ControlError(Exception):
    """The control API could not be reached or refused the request."""


def register(subparsers: Any) -> None:
    """Add `ioc sim` and its subcommands."""
    sim = subparsers.add_parser(
        "sim", help="run the simulated province (portal, payments, documents) or steer it",
        description="Without a subcommand: run the simulated province until Ctrl-C.",
    )
    _run_options(sim)
    sim.set_defaults(func=run_command)
    sub = sim.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    fault = sub.add_parser("fault", help="inject, list or clear faults in a running province")
    fault_sub = fault.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = fault_sub.add_parser("add", help="inject a fault (ends by itself after --duration)")
    add.add_argument("kind", choices=KINDS)
    add.add_argument("--system", required=True, choices=SYSTEMS)
    add.add_argument("--endpoint", help="only requests whose path starts with this (/api/stats)")
    add.add_argument("--duration", default="5m", help="wall-clock time, e.g. 30s, 5m (default 5m)")
    add.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a parameter of the kind, e.g. -p ms=2000 -p rate=0.2 (see SIM_API.md)")
    add.set_defaults(func=fault_add_command)
    lst = fault_sub.add_parser("list", help="list the faults that are on")
    lst.set_defaults(func=fault_list_command)
    clear = fault_sub.add_parser("clear", help="end one fault (by id) or all of them")
    clear.add_argument("id", nargs="?", help="fault id from `list`; all faults when left out")
    clear.set_defaults(func=fault_clear_command)
    for parser in (add, lst, clear):
        _control_option(parser)

    clock = sub.add_parser("clock", help="show the simulated clock, change its speed or push it")
    clock.add_argument("--speed", type=float, help="simulated seconds per real second (0 freezes)")
    clock.add_argument("--advance", help="jump forward by this much simulated time, e.g. 2h")
    clock.set_defaults(func=clock_command)
    _control_option(clock)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="same seed, same province (default 1)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per real second (default 1)")
    parser.add_argument("--backfill-days", type=float, default=0.0,
                        help="days of history generated at start (default 0)")
    parser.add_argument("--start-at", help="simulated start time, RFC 3339 (default: now)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE,
                        help="control on this port, portal +1, payments +2, documents +3 "
                             f"(default {DEFAULT_PORT_BASE}; 0 picks free ports)")
    defaults = Volumes()
    parser.add_argument("--dossiers-per-day", type=float, default=defaults.dossiers_per_day,
                        help="dossiers per working day (default %(default)s)")
    parser.add_argument("--documents-per-day", type=float, default=defaults.documents_per_day,
                        help="documents per working day (default %(default)s)")
    parser.add_argument("--online-payment-share", type=float,
                        default=defaults.online_payment_share,
                        help="share of fee-bearing dossiers paid online (default %(default)s)")


def _control_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--control-url", default=DEFAULT_CONTROL_URL,
                        help=f"the simulator's control API (default {DEFAULT_CONTROL_URL})")


def options_from_args(args: argparse.Namespace) -> SimOptions:
    """SimOptions from `ioc sim` arguments; ValueError says which one is wrong."""
    if args.speed < 0 or args.backfill_days < 0:
        raise ValueError("--speed and --backfill-days must be >= 0")
    if not 0 <= args.online_payment_share <= 1:
        raise ValueError("--online-payment-share is a share from 0 to 1")
    start_at: datetime | None = None
    if args.start_at:
        start_at = parse_time(args.start_at, "--start-at")
    return SimOptions(
        seed=args.seed, speed=args.speed, backfill_days=args.backfill_days, start_at=start_at,
        host=args.host, ports=ports_from_base(args.port_base),
        volumes=Volumes(dossiers_per_day=args.dossiers_per_day,
                        documents_per_day=args.documents_per_day,
                        online_payment_share=args.online_payment_share),
    )


def run_command(args: argparse.Namespace) -> int:
    try:
        options = options_from_args(args)
    except ValueError as exc:
        print(f"ioc sim: {exc}", file=sys.stderr)
        return 2
    try:
        run_async(_serve(options))
    except OSError as exc:
        print(f"ioc sim: cannot listen ({exc}); is another simulator running? "
              "Choose another --port-base.", file=sys.stderr)
        return 1
    return 0


def run_async(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (about 1.5x the requests a second), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def _serve(options: SimOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with run_province(options) as province:
        print(f"simulated province running (seed {options.seed}, speed {options.speed:g}x, "
              f"backfill {options.backfill_days:g} days, {len(province.model.dossiers)} dossiers "
              "so far):")
        for name, url in {**province.urls, "control": province.control_url}.items():
            print(f"  {name:<10} {url}")
        print("Ctrl-C stops it.", flush=True)
        await stop.wait()
    print("simulated province stopped", flush=True)


def call_control(base_url: str, method: str, path: str, body: object | None = None) -> Any:
    """One request to the control API; ControlError with a readable reason on failure."""
    if not base_url.startswith(("http://", "https://")):
        raise ControlError(f"--control-url must be an http(s) URL; got {base_url!r}")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        base_url.rstrip("/") + path, data=data, method=method,
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            reason = exc.reason
        raise ControlError(f"{method} {path}: {exc.code} {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ControlError(f"cannot reach the simulator at {base_url} ({exc}); "
                           "is `ioc sim` running? (see --control-url)") from None


def parse_params(items: list[str]) -> dict[str, Any]:
    """`key=value` pairs; numbers become numbers, the rest stays text."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {item!r}: write KEY=VALUE, e.g. ms=2000")
        value: Any = raw
        for convert in (int, float):
            try:
                value = convert(raw)
                break
            except ValueError:
                continue
        params[key.strip()] = value
    return params


def _control(func: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], int]:
    """Run a control command, turning its failures into a message and exit code 1."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            func(args)
        except (ControlError, ValueError) as exc:
            print(f"ioc sim: {exc}", file=sys.stderr)
            return 1
        return 0

    return wrapper


@_control
def fault_add_command(args: argparse.Namespace) -> None:
    body = {"kind": args.kind, "system": args.system, "duration": args.duration,
            **parse_params(args.param)}
    if args.endpoint:
        body["endpoint"] = args.endpoint
    fault = call_control(args.control_url, "POST", "/faults", body)
    print(f"{fault['id']}: {fault['kind']} on {fault['system']} until {fault['ends_at']}")


@_control
def fault_list_command(args: argparse.Namespace) -> None:
    items = call_control(args.control_url, "GET", "/faults")["items"]
    if not items:
        print("no faults are on")
    skip = {"id", "kind", "system", "endpoint", "duration", "started_at", "ends_at", "remaining_s"}
    for f in items:
        params = " ".join(f"{k}={v}" for k, v in f.items() if k not in skip)
        print(f"{f['id']:<5} {f['kind']:<18} {f['system']:<10} {f.get('endpoint') or '*':<22} "
              f"{f['remaining_s']:>8.1f}s left  {params}".rstrip())


@_control
def fault_clear_command(args: argparse.Namespace) -> None:
    path = f"/faults/{args.id}" if args.id else "/faults"
    removed = call_control(args.control_url, "DELETE", path)["removed"]
    ids = removed if isinstance(removed, list) else [removed]
    print(f"cleared: {', '.join(ids) if ids else 'nothing was on'}")


@_control
def clock_command(args: argparse.Namespace) -> None:
    body: dict[str, Any] = {}
    if args.speed is not None:
        body["speed"] = args.speed
    if args.advance:
        body["advance"] = args.advance
    clock = call_control(args.control_url, "POST" if body else "GET", "/clock",
                         body if body else None)
    print(f"simulated time {clock['now']} at {clock['speed']:g}x")
