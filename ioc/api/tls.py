"""HTTPS for `ioc serve`: one SSLContext whose certificate is reloaded when its files change.

uvicorn builds the context once (`ssl_context_factory`), and every new connection is set up
from that same object; `SSLContext.load_cert_chain` on it replaces the certificate and key for
the handshakes that follow, so a renewed certificate (certbot, an internal CA) is picked up
without a restart and without dropping the connections already open. The files are polled
every few seconds and reloaded at once on SIGHUP. A half-written or mismatched pair is not
loaded: the old certificate stays in use, the error is logged, and the next change is tried.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("ioc.api.tls")
POLL_S = 2.0


class TlsError(ValueError):
    """The certificate or key cannot be used; the message says which file and why."""


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


class CertReloader:
    """Owns the server's SSLContext and keeps it in step with the certificate and key files."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = cert
        self.key = key
        self.context: ssl.SSLContext | None = None
        self._loaded: tuple[tuple[int, int, int], ...] = ()
        self.reloads = 0

    def _stamps(self) -> tuple[tuple[int, int, int], ...]:
        return _stamp(self.cert), _stamp(self.key)

    def check(self) -> None:
        """Load the pair once into a scratch context: a clear TlsError before serving."""
        for what, path in (("certificate", self.cert), ("key", self.key)):
            if not path.is_file():
                raise TlsError(f"TLS {what} file {path} does not exist (--tls-"
                               f"{'cert' if what == 'certificate' else 'key'})")
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, OSError) as exc:
            raise TlsError(f"cannot load the TLS certificate {self.cert} with the key "
                           f"{self.key}: {exc} (PEM files, the key unencrypted and matching "
                           "the certificate)") from None

    def factory(self, config: object, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        """uvicorn's `ssl_context_factory`: its own context (protocols, ALPN), remembered."""
        stamps = self._stamps()
        self.context = default()
        self._loaded = stamps
        return self.context

    def reload(self, *, force: bool = False) -> bool:
        """Reload the pair if a file changed (or `force`); True when a new pair is in use."""
        if self.context is None:
            return False
        try:
            stamps = self._stamps()
        except OSError as exc:  # being replaced (rename): try again next time
            log.warning("TLS files unreadable, keeping the current certificate: %s", exc)
            return False
        if stamps == self._loaded and not force:
            return False
        try:
            self.context.load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, OSError) as exc:
            log.error("TLS certificate %s not reloaded (the current one stays in use): %s",
                      self.cert, exc)
            self._loaded = stamps  # retried when the files change again
            return False
        self._loaded = stamps
        self.reloads += 1
        log.info("TLS certificate reloaded from %s", self.cert)
        return True

    async def watch(self, poll_s: float = POLL_S) -> None:
        """Poll the files until cancelled."""
        while True:
            await asyncio.sleep(poll_s)
            self.reload()
