"""`ioc serve`: run the API, live feed and wall page with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from ioc.settings import settings_or_exit

if TYPE_CHECKING:
    import uvicorn

    from ioc.api.tls import CertReloader


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("serve", help="serve the REST API, the live feed and the wall page")
    p.add_argument("--host", help="address to bind (default IOC_API_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default IOC_API_PORT or 8080)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin (repeatable; default: none)")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR|CIDR",
                   help="a reverse proxy whose X-Forwarded-For/-Proto are believed (repeatable; "
                   "default IOC_TRUSTED_PROXIES, comma-separated; none by default)")
    p.add_argument("--tls-cert", type=Path, metavar="PEM",
                   help="serve HTTPS with this certificate chain (default IOC_TLS_CERT); "
                   "reloaded when the file changes or on SIGHUP")
    p.add_argument("--tls-key", type=Path, metavar="PEM",
                   help="the certificate's unencrypted private key (default IOC_TLS_KEY)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ioc.api.app import create_app
    from ioc.api.tls import CertReloader, TlsError
    from ioc.config.holder import ConfigHolder
    from ioc.config.issues import ConfigError
    from ioc.config_sync import ConfigSyncer
    from ioc.db import make_pool
    from ioc.settings import SettingsError, check_serving, parse_proxies

    settings = settings_or_exit("api")
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    cert = args.tls_cert or settings.tls_cert
    key = args.tls_key or settings.tls_key
    try:
        proxies = (parse_proxies(args.trusted_proxy, "--trusted-proxy") if args.trusted_proxy
                   else settings.trusted_proxies)
        if (cert is None) != (key is None):
            raise SettingsError("HTTPS needs both a certificate and its key: --tls-cert and "
                                "--tls-key (or IOC_TLS_CERT and IOC_TLS_KEY)")
        check_serving(settings.public_url, cert is not None, proxies)
        tls = CertReloader(cert, key) if cert is not None and key is not None else None
        if tls is not None:
            tls.check()
    except (SettingsError, TlsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
                     config=lambda: holder.config, reload_config=holder.reload,
                     trusted_proxies=proxies)
    scheme = "https" if tls else "http"
    print(f"IOC API on {scheme}://{host}:{port}/ (wall: /wall#token=..., docs: /api/docs)"
          + (f"; trusting proxies {', '.join(proxies)}" if proxies else ""), file=sys.stderr)
    # uvicorn's access log prints query strings, which may hold a wall's token: ours does not.
    # No per-message deflate: the live feed sends the same small JSON to every screen, and
    # compressing it once per client would cost more CPU than the bytes it saves.
    # Forwarded headers are handled by the app itself (create_app's trusted_proxies).
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None,
                            ws_ping_interval=20, ws_ping_timeout=20, ws_per_message_deflate=False,
                            proxy_headers=False,
                            ssl_certfile=cert, ssl_keyfile=key,
                            ssl_context_factory=tls.factory if tls else None)
    server = uvicorn.Server(config)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve(server, tls))
    return 0


async def _serve(server: uvicorn.Server, tls: CertReloader | None) -> None:
    """Run the server; with TLS, follow the certificate files (and SIGHUP) meanwhile."""
    if tls is None:
        await server.serve()
        return
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: tls.reload(force=True))
    watcher = asyncio.create_task(tls.watch(), name="ioc-tls-reload")
    try:
        await server.serve()
    finally:
        watcher.cancel()
        with suppress(asyncio.CancelledError):
            await watcher
