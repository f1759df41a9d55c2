"""Headless Chromium driven over the DevTools protocol: wall screenshots for docs and tests."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from contextlib import ExitStack, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--hide-scrollbars", "--mute-audio")
# Installed before any page script runs; DevTools-injected code is not subject to the page's CSP.
_WATCH_CSP = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
              "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


class BrowserError(RuntimeError):
    """Chromium could not be started or a DevTools call failed."""


class Chromium:
    """One headless Chromium with one page, sized `width`×`height` CSS pixels; `env` adds to
    its environment (e.g. TZ, to play a kiosk set to another time zone)."""

    def __init__(self, width: int = 1920, height: int = 1080, binary: str = CHROMIUM,
                 timeout_s: float = 20.0, env: Mapping[str, str] | None = None) -> None:
        self.width, self.height = width, height
        self._env = {**os.environ, **(env or {})}
        self._binary = binary
        self._timeout = timeout_s
        self._ids = itertools.count(1)
        self._dir = Path(tempfile.mkdtemp(prefix="ioc-chromium-"))
        self._stack = ExitStack()
        self._ws: ClientConnection | None = None

    def __enter__(self) -> Chromium:
        with ExitStack() as stack:
            stack.callback(shutil.rmtree, self._dir, ignore_errors=True)
            log = stack.enter_context((self._dir / "chromium.log").open("wb"))
            port = _free_port()
            proc = stack.enter_context(subprocess.Popen(
                [self._binary, *FLAGS, f"--user-data-dir={self._dir / 'profile'}",
                 f"--remote-debugging-port={port}", f"--window-size={self.width},{self.height}",
                 "about:blank"],
                stdout=log, stderr=log, start_new_session=True, env=self._env))
            stack.callback(_stop, proc)
            page = self._page_url(port)
            self._ws = stack.enter_context(
                connect(page, max_size=64 * 2**20, open_timeout=self._timeout))
            self._stack = stack.pop_all()
        self.call("Page.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", source=_WATCH_CSP)
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()

    def _page_url(self, port: int) -> str:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                            timeout=2) as resp:
                    pages = [t for t in json.load(resp) if t.get("type") == "page"]
                if pages:
                    return str(pages[0]["webSocketDebuggerUrl"])
            except OSError:
                pass
            time.sleep(0.1)
        raise BrowserError(f"Chromium did not open its DevTools port within {self._timeout}s")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events are skipped)."""
        assert self._ws is not None, "use Chromium as a context manager"
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=self._timeout))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return dict(reply.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def open(self, url: str) -> None:
        """Navigate and wait until the document has loaded."""
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def wait_for(self, expression: str, timeout_s: float | None = None) -> Any:
        """Poll until the expression is truthy; returns its value."""
        deadline = time.monotonic() + (timeout_s or self._timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"page never satisfied: {expression}")
            time.sleep(0.1)

    def screenshot(self, path: Path | None = None) -> bytes:
        """A PNG of the viewport; also written to `path` when given."""
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return data


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End Chromium and its helper processes (its own process group), without a grace wait:
    a headless browser with a throwaway profile has nothing to save."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
