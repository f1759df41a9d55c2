"""Failed-authentication limiter: sliding windows of failures per client address and per token
prefix, and a small memory of secrets known to be bad.

The limiter never stands between a valid token and the API: the caller checks a presented token
first and consults the limiter only for a credential that failed (see ioc.api.auth). A client
whose address or token prefix failed `limit` times within `window_s` seconds gets 429 instead of
401 for its next failures; a secret already refused recently is refused again without a
database lookup (a revoked kiosk token retrying every few seconds costs nothing).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict, deque
from collections.abc import Callable

PREFIX_CHARS = 12
"""Characters of a presented token that identify it for counting: `ioc_` and 8 random ones
(48 bits: distinct tokens almost never share one, and the prefix alone reveals nothing useful)."""
MAX_KEY = 64  # an address or prefix longer than this is cut: keys stay small whatever is sent


def prefix_key(secret: str | None) -> str | None:
    """The counting key of a presented token, or None when none was presented."""
    return f"token:{secret[:PREFIX_CHARS]}" if secret else None


def address_key(client: str) -> str:
    """The counting key of a client address."""
    return f"addr:{client[:MAX_KEY]}"


def limiter_kind(key: str) -> str:
    """`address` or `token_prefix`: the metrics' label for a key."""
    return "address" if key.startswith("addr:") else "token_prefix"


class FailureLimiter:
    """After `limit` failures within `window_s` seconds a key (an address or a token prefix) is
    refused until they age out.

    Memory is bounded: at most `max_clients` keys and `max_bad` bad secrets are remembered (the
    least recent are dropped first).
    """

    def __init__(self, limit: int = 10, window_s: float = 60.0, *, max_clients: int = 10_000,
                 max_bad: int = 10_000, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self.max_bad = max_bad
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._bad: OrderedDict[str, float] = OrderedDict()  # sha256 of a refused secret -> when

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        cutoff = self._clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again; 0 when it is not blocked."""
        times = self._recent(key)
        if len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[-self.limit] + self.window_s - self._clock()))

    def failed(self, key: str) -> bool:
        """Record one failed attempt under `key`; True when this failure locked it out."""
        blocked = self.retry_after(key) > 0
        times = self._failures.pop(key, None) or deque()
        times.append(self._clock())
        while len(times) > self.limit:
            times.popleft()
        self._failures[key] = times
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)
        return not blocked and len(times) >= self.limit

    def locked(self) -> dict[str, int]:
        """How many addresses and token prefixes are blocked now (for the metrics)."""
        counts = {"address": 0, "token_prefix": 0}
        for key in list(self._failures):
            if self.retry_after(key):
                counts[limiter_kind(key)] += 1
        return counts

    # -- secrets already refused -------------------------------------------------------------

    @staticmethod
    def _digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def known_bad(self, secret: str) -> bool:
        """Whether this exact secret was refused within the window (no need to ask again).

        A token's secret is random and a revoked token never comes back, so a secret refused
        once stays invalid: remembering it can never turn a valid token away.
        """
        digest = self._digest(secret)
        when = self._bad.get(digest)
        if when is None:
            return False
        if when <= self._clock() - self.window_s:
            del self._bad[digest]
            return False
        return True

    def remember_bad(self, secret: str) -> None:
        digest = self._digest(secret)
        self._bad.pop(digest, None)
        self._bad[digest] = self._clock()
        while len(self._bad) > self.max_bad:
            self._bad.popitem(last=False)
