"""The breaker's state machine, on a clock the test moves: no sleeping."""

from __future__ import annotations

import pytest

from backend.core.breaker import BreakerState, CircuitBreaker, Ticket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _breaker(clock: Clock, changes: list[BreakerState] | None = None) -> CircuitBreaker:
    return CircuitBreaker(3, 10.0, clock=clock, on_change=None if changes is None else changes.append)


def state(breaker: CircuitBreaker) -> BreakerState:
    # Through a call, so mypy does not narrow the property across the transitions a test makes.
    return breaker.state


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        ticket = breaker.admit()
        assert ticket is not None
        breaker.record_failure(ticket)


def _admitted(breaker: CircuitBreaker) -> Ticket:
    ticket = breaker.admit()
    assert ticket is not None
    return ticket


def test_opens_after_n_consecutive_failures_only(clock: Clock) -> None:
    breaker = _breaker(clock)
    _fail(breaker, 2)
    breaker.record_success(_admitted(breaker))  # a success breaks the streak
    _fail(breaker, 2)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.consecutive_failures == 2
    _fail(breaker, 1)
    assert state(breaker) is BreakerState.OPEN
    assert breaker.admit() is None


def test_half_open_after_reset_lets_exactly_one_trial_through(clock: Clock) -> None:
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.now += 9.9
    assert state(breaker) is BreakerState.OPEN
    assert breaker.admit() is None
    clock.now += 0.1
    assert state(breaker) is BreakerState.HALF_OPEN
    trial = _admitted(breaker)
    assert trial.trial
    assert breaker.admit() is None, "a second call while the trial is in flight must fail fast"
    breaker.record_success(trial)
    assert state(breaker) is BreakerState.CLOSED
    assert not _admitted(breaker).trial


def test_a_failed_trial_reopens_for_another_full_reset_period(clock: Clock) -> None:
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.now += 10
    breaker.record_failure(_admitted(breaker))
    assert state(breaker) is BreakerState.OPEN
    clock.now += 9.9
    assert breaker.admit() is None
    clock.now += 0.1
    assert _admitted(breaker).trial


def test_a_released_trial_gives_its_place_to_the_next_call(clock: Clock) -> None:
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.now += 10
    breaker.release(_admitted(breaker))
    assert state(breaker) is BreakerState.HALF_OPEN
    assert _admitted(breaker).trial


def test_calls_admitted_before_it_opened_cannot_close_it_or_count_later(clock: Clock) -> None:
    breaker = _breaker(clock)
    stale = [_admitted(breaker) for _ in range(4)]
    _fail(breaker, 3)
    breaker.record_success(stale[0])
    assert state(breaker) is BreakerState.OPEN
    clock.now += 10
    breaker.record_success(stale[1])  # half-open: only the trial may decide
    assert state(breaker) is BreakerState.HALF_OPEN
    breaker.record_success(_admitted(breaker))
    assert state(breaker) is BreakerState.CLOSED
    breaker.record_failure(stale[2])
    breaker.record_failure(stale[3])
    assert breaker.consecutive_failures == 0


def test_reports_each_change_once(clock: Clock) -> None:
    changes: list[BreakerState] = []
    breaker = _breaker(clock, changes)
    _fail(breaker, 3)
    clock.now += 10
    breaker.record_failure(_admitted(breaker))
    clock.now += 10
    breaker.record_success(_admitted(breaker))
    assert changes == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]
    assert [int(state) for state in BreakerState] == [0, 1, 2]


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="failures"):
        CircuitBreaker(0, 1.0)
