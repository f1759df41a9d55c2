"""A real uvicorn server running the API in a background thread, on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from ioc.api.app import create_app
from ioc.db import make_pool
from ioc.settings import Settings


class ApiServer:
    """Starts `create_app(...)` under uvicorn; `url` and `ws_url` point at it."""

    def __init__(self, database_url: str, port: int = 0, **app_kwargs: Any) -> None:
        self.settings = Settings(database_url=database_url, secret_key="test-secret")
        self.pool = make_pool(database_url, min_size=1, max_size=10, app="ioc-api-test")
        self.app: FastAPI = create_app(self.settings, self.pool, **app_kwargs)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit it: without it the asyncio loop's two writes per response
        # (head, body) meet the client's delayed ACK, and every request takes ~40 ms.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/live"
        config = uvicorn.Config(self.app, log_config=None, access_log=False,
                                ws_ping_interval=None, ws_per_message_deflate=False,
                                lifespan="on", proxy_headers=False)  # as `ioc serve`
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="api-server", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        self.loop.close()

    def start(self) -> ApiServer:
        self._thread.start()
        self.wait(lambda: self._server.started, "server start")
        self.wait(lambda: self.app.state.services.hub.listening.is_set(), "live listener")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    @staticmethod
    def wait(cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.02)


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server process as its service manager would: SIGTERM, then SIGKILL after 20 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
