"""Keep tokens out of logs: wall URLs and websocket handshakes may carry `?token=...`."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(token=|bearer\.)[^&\s\"']+", re.IGNORECASE)
# uvicorn logs request lines (access) and websocket handshakes (error) with their query string.
LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")


def redact(text: str) -> str:
    """The text with every token value replaced by ***."""
    return _TOKEN.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Rewrites each record's message with token values masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install() -> None:
    """Attach the filter to uvicorn's loggers (once per process)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
