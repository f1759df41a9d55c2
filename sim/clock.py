"""The simulated clock: a start time that runs at `speed` times real time, and can be pushed on."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta


class SimClock:
    """Simulated time = start_at + (wall elapsed x speed) + manual advances; never goes back.

    `wall` is the real-time source (seconds, monotonic); tests pass their own to step time.
    Speed 0 freezes the clock (time then moves only by `advance`).
    """

    def __init__(
        self,
        start_at: datetime,
        speed: float = 1.0,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if start_at.tzinfo is None:
            raise ValueError("start_at must be timezone-aware")
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self._wall = wall
        self._anchor_at = start_at
        self._anchor_wall = wall()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        """The current simulated time (UTC-aware)."""
        elapsed = (self._wall() - self._anchor_wall) * self._speed
        return self._anchor_at + timedelta(seconds=elapsed)

    def set_speed(self, speed: float) -> None:
        """Change the rate from now on; simulated time so far is kept."""
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self._reanchor(timedelta(0))
        self._speed = float(speed)

    def advance(self, delta: timedelta) -> None:
        """Jump simulated time forward by `delta` (for demos and tests)."""
        if delta < timedelta(0):
            raise ValueError("the simulated clock cannot go back")
        self._reanchor(delta)

    def _reanchor(self, delta: timedelta) -> None:
        now = self.now()
        self._anchor_wall = self._wall()
        self._anchor_at = now + delta
