"""The recycling handover's files: each request is taken by one replacement, and the master gives
back the extra worker only for a worker that asked for one."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from backend.core import handover


def test_a_request_is_taken_once_and_finished_by_the_master(tmp_path: Path) -> None:
    got: list[int] = []
    previous = signal.signal(signal.SIGTTIN, lambda signum, frame: got.append(signum))
    try:
        handover.request(tmp_path, 101, os.getpid())
    finally:
        signal.signal(signal.SIGTTIN, previous)
    assert got == [signal.SIGTTIN]  # the master is asked for one worker more
    assert not handover.taken(tmp_path, 101)

    assert handover.take(tmp_path) == 101
    assert handover.take(tmp_path) is None  # a second new worker finds nothing to take over
    assert handover.taken(tmp_path, 101)

    assert handover.finish(tmp_path, 101)
    assert not handover.finish(tmp_path, 101)
    assert not handover.finish(tmp_path, 202)  # a worker that never asked (killed, crashed)
    assert list(tmp_path.iterdir()) == []
