"""Recycling without a gap: a worker that reached MAX_REQUESTS stops only once its replacement serves.

Gunicorn starts a replacement when the old worker has exited. Meanwhile the old worker's keep-alive
clients reconnect to the workers left, and the replacement, ready a few tenths of a second later,
gets no connection until another worker recycles: with MAX_REQUESTS=1000 under load one worker was
seen serving alone for a second while three sat idle (bench/startup.py measures what it costs).

So the handover runs the other way round, through files in one directory per master
(HANDOVER_DIR, made by gunicorn.conf.py):
1. the retiring worker writes `<pid>` there and sends the master SIGTTIN (one worker more);
2. a worker that has just started serving takes one pending request by renaming it to
   `<pid>.taken` (a rename succeeds once, so one replacement per request);
3. the retiring worker stops accepting once its request is taken (or after TIMEOUT_SECONDS, so a
   replacement that cannot start never keeps it alive), and its clients reconnect to a worker
   that is already listening;
4. when the master reaps it, `finish` removes its file and takes the extra worker back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from backend.core.logging import get_logger

log = get_logger("handover")

ENV = "HANDOVER_DIR"
TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.02
TAKEN = ".taken"


def directory() -> Path | None:
    """This master's handover directory, or None when not running under our gunicorn config."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def request(folder: Path, pid: int, master: int) -> None:
    """Ask the master for one more worker, to take over from worker `pid`."""
    (folder / str(pid)).touch()
    os.kill(master, signal.SIGTTIN)


def take(folder: Path) -> int | None:
    """Claim one pending request; the pid of the worker now free to stop, or None."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return None
    for name in names:
        if not name.isdigit():
            continue
        try:
            os.rename(folder / name, folder / f"{name}{TAKEN}")
        except FileNotFoundError:  # another new worker took it first
            continue
        return int(name)
    return None


def taken(folder: Path, pid: int) -> bool:
    return (folder / f"{pid}{TAKEN}").exists()


def finish(folder: Path, pid: int) -> bool:
    """In the master, when worker `pid` is gone: True when it had asked for a replacement."""
    found = False
    for name in (str(pid), f"{pid}{TAKEN}"):
        try:
            (folder / name).unlink()
            found = True
        except FileNotFoundError:
            pass
    return found


async def retire(folder: Path, pid: int, master: int) -> None:
    """Request a replacement and wait until it serves, or TIMEOUT_SECONDS at most."""
    await asyncio.to_thread(request, folder, pid, master)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if await asyncio.to_thread(taken, folder, pid):
            return
        await asyncio.sleep(POLL_SECONDS)
    log.warning("no replacement started in time; stopping anyway", extra={"timeout_s": TIMEOUT_SECONDS})
