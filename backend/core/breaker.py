"""A circuit breaker for one upstream, shared by every call of a worker.

closed ──N consecutive failures──► open ──reset seconds──► half-open ──trial succeeds──► closed
                                    ▲                          │
                                    └──────trial fails─────────┘

Every method is synchronous and never awaits, so on one event loop each check-and-update is atomic:
no lock is needed and two coroutines can never both take the half-open trial.

Callers are admitted with a `Ticket` and report its outcome with it. The ticket remembers the
breaker's epoch (how many times it has opened), so a slow call that was admitted before the breaker
opened cannot close it, or count towards the next streak, when it finally ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum


class BreakerState(IntEnum):
    # The values are the gauge's: a dashboard reads 0 as healthy and 2 as cut off.
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True)
class Ticket:
    epoch: int
    trial: bool


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        reset_seconds: float,
        *,
        on_change: Callable[[BreakerState], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or reset_seconds <= 0:
            raise ValueError("failures must be >= 1 and reset_seconds > 0")
        self._threshold = failures
        self._reset_seconds = reset_seconds
        self._on_change = on_change
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._streak = 0
        self._epoch = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        # Open turns half-open lazily, on the first look after the reset time; no timer task needed.
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._reset_seconds:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._streak

    def admit(self) -> Ticket | None:
        """A ticket for one call, or None when the call must fail fast."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Ticket(self._epoch, trial=False)
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return Ticket(self._epoch, trial=True)
        return None

    def record_success(self, ticket: Ticket) -> None:
        if ticket.trial:
            self._trial_in_flight = False
            self._streak = 0
            self._set(BreakerState.CLOSED)
        elif self._state is BreakerState.CLOSED and ticket.epoch == self._epoch:
            self._streak = 0

    def record_failure(self, ticket: Ticket) -> None:
        if ticket.trial:
            self._trial_in_flight = False
            self._open()
        elif self._state is BreakerState.CLOSED and ticket.epoch == self._epoch:
            self._streak += 1
            if self._streak >= self._threshold:
                self._open()

    def release(self, ticket: Ticket) -> None:
        """The call ended without telling anything about the upstream (cancelled, abandoned, queued
        out): a trial gives its place back so the next call can be the trial."""
        if ticket.trial:
            self._trial_in_flight = False

    def _open(self) -> None:
        self._epoch += 1
        self._streak = 0
        self._opened_at = self._clock()
        self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        changed = state is not self._state
        self._state = state
        # Only real changes are reported: under gunicorn the callback writes a gauge file.
        if changed and self._on_change is not None:
            self._on_change(state)
