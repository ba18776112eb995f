"""Waiting out an unavailable database (or schema registry): retry with backoff, a clear
log line, no crash-loop.

The library already retries a failed statement a few times within a couple
of seconds. A restart of PostgreSQL, or a dropped connection pool, lasts
longer; the ingest then waits here — doubling the pause up to a ceiling —
and carries on with the same batch once the database answers. Nothing is
skipped: the batch's Kafka offsets are committed only after it is stored. The same
wait serves any other service the ingest cannot do without for a while: a schema
registry asked for a writer schema (``unavailable``: what its failure raises, ``down``:
what the log calls it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError

from ledger.services.ports import first_line

T = TypeVar("T")
log = logging.getLogger("bloodledger.retry")

#: After this long without an answer, a waiting database call is reported.
SLOW_AFTER_S = 3.0

#: Errors that mean "the database cannot be reached now", not "this is wrong".
UNAVAILABLE = (OperationalError, InterfaceError)


class Stopped(Exception):
    """The process was asked to stop while waiting for the database."""


def sleep_unless_stopped(seconds: float, stopping: Callable[[], bool]) -> None:
    """Wait ``seconds``, or less if asked to stop meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stopping():
        time.sleep(min(0.1, seconds))


def until_available(
    action: Callable[[], T],
    *,
    what: str,
    stopping: Callable[[], bool] = lambda: False,
    first_pause: float = 0.5,
    max_pause: float = 30.0,
    unavailable: tuple[type[BaseException], ...] = UNAVAILABLE,
    down: str = "database",
) -> T:
    """Run ``action``; while the database (``down``) is unavailable, wait and run it again."""
    pause = first_pause
    while True:
        watchdog = _Watchdog(what, down)
        try:
            return action()
        except unavailable as error:
            if stopping():
                raise Stopped(what) from error
            log.warning(
                "%s: %s unavailable (%s: %s); retrying in %.1f s",
                what, down, type(error).__name__, first_line(error), pause,
            )  # fmt: skip
            sleep_unless_stopped(pause, stopping)
            pause = min(pause * 2, max_pause)
        finally:
            watchdog.cancel()


class _Watchdog:
    """Says so when a database call hangs (a pool waiting for a server to come back)."""

    def __init__(self, what: str, down: str = "database", after: float = SLOW_AFTER_S) -> None:
        self.what = what
        self.down = down
        self.started = time.monotonic()
        self._timer = threading.Timer(after, self._warn)
        self._timer.daemon = True
        self._timer.start()

    def _warn(self) -> None:
        waited = time.monotonic() - self.started
        log.warning(
            "%s: %s unavailable for %.0f s so far; still waiting", self.what, self.down, waited
        )

    def cancel(self) -> None:
        self._timer.cancel()
