"""TLS details of a probe: handshake timing and the server certificate's days to expiry."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime


class TimedSSLObject(ssl.SSLObject):
    """An SSLObject that remembers when its handshake started and finished.

    asyncio drives the handshake through `do_handshake()` of the object `wrap_bio` returns, so a
    subclass set as the context's `sslobject_class` sees both moments without any patching.
    """

    handshake_started: float | None = None
    handshake_done: float | None = None

    def do_handshake(self) -> None:
        if self.handshake_started is None:
            self.handshake_started = time.perf_counter()
        super().do_handshake()
        self.handshake_done = time.perf_counter()

    @property
    def handshake_ms(self) -> float | None:
        """The handshake's duration in milliseconds, when it completed."""
        if self.handshake_started is None or self.handshake_done is None:
            return None
        return (self.handshake_done - self.handshake_started) * 1000


def client_context(verify: bool) -> ssl.SSLContext:
    """A client context whose connections report handshake timing."""
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.sslobject_class = TimedSSLObject
    return ctx


def cert_days_left(der: bytes, now: datetime) -> float | None:
    """Days from `now` until the certificate's notAfter (negative once expired).

    The DER form is read directly because `getpeercert()` returns nothing when verification is
    off, and a self-signed certificate's expiry is still worth knowing.
    """
    try:
        not_after = _not_after(der)
    except (IndexError, ValueError):
        return None
    return (not_after - now).total_seconds() / 86400


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `pos`."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, pos, pos + length


def _not_after(der: bytes) -> datetime:
    _, cert_start, _ = _tlv(der, 0)  # Certificate ::= SEQUENCE
    _, pos, _ = _tlv(der, cert_start)  # tbsCertificate ::= SEQUENCE
    tag, _, end = _tlv(der, pos)
    if tag == 0xA0:  # [0] version, optional
        pos = end
    for _ in range(3):  # serialNumber, signature, issuer
        pos = _tlv(der, pos)[2]
    _, validity, _ = _tlv(der, pos)
    not_before_end = _tlv(der, validity)[2]
    tag, start, end = _tlv(der, not_before_end)
    text = der[start:end].decode("ascii")
    fmt = "%y%m%d%H%M%SZ" if tag == 0x17 else "%Y%m%d%H%M%SZ"  # UTCTime or GeneralizedTime
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)
