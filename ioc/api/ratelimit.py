"""Failed-authentication limiter: per client address, a sliding window of failures."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureLimiter:
    """After `limit` failures within `window_s` seconds an address is refused until they age out.

    Memory is bounded: at most `max_clients` addresses are tracked (the least recent is dropped).
    """

    def __init__(self, limit: int = 10, window_s: float = 60.0, *, max_clients: int = 10_000,
                 clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        cutoff = self._clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[client]
        return times

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it is not blocked."""
        times = self._recent(client)
        if len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[-self.limit] + self.window_s - self._clock()))

    def failed(self, client: str) -> None:
        """Record one failed attempt from `client`."""
        times = self._failures.pop(client, None) or deque()
        times.append(self._clock())
        while len(times) > self.limit:
            times.popleft()
        self._failures[client] = times
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)
