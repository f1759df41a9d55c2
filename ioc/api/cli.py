"""`ioc serve`: run the API, live feed and wall page with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

from ioc.settings import settings_or_exit


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("serve", help="serve the REST API, the live feed and the wall page")
    p.add_argument("--host", help="address to bind (default IOC_API_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default IOC_API_PORT or 8080)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin (repeatable; default: none)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ioc.api.app import create_app
    from ioc.config.holder import ConfigHolder
    from ioc.config.issues import ConfigError
    from ioc.config_sync import ConfigSyncer
    from ioc.db import make_pool

    settings = settings_or_exit()
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    try:
        holder = ConfigHolder(settings.config_dir)
    except ConfigError as exc:
        print(f"error: the province config in {settings.config_dir} is invalid:\n{exc}",
              file=sys.stderr)
        return 2
    # The config's copy in the database: at start and after each reload (POST /config/reload).
    ConfigSyncer.for_url(settings.database_url, holder, app="ioc-api-config").attach(
    ).keep_trying()
    pool = make_pool(settings.database_url, min_size=2, max_size=20, app="ioc-api")
    # The API's database watcher logs an outage once (and its end); the pool would add a line
    # for every broken or refused connection.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    app = create_app(settings, pool, cors_origins=args.cors_origin,
                     config=lambda: holder.config, reload_config=holder.reload)
    print(f"IOC API on http://{host}:{port}/ (wall: /wall#token=..., docs: /api/docs)",
          file=sys.stderr)
    # uvicorn's access log prints query strings, which may hold a wall's token: ours does not.
    # No per-message deflate: the live feed sends the same small JSON to every screen, and
    # compressing it once per client would cost more CPU than the bytes it saves.
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=None,
                ws_ping_interval=20, ws_ping_timeout=20, ws_per_message_deflate=False,
                proxy_headers=False)
    return 0
