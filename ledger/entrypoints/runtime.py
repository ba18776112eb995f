"""Process-wide settings for the ledger's commands (set once, at start)."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING

from ledger.services.ports import first_line

if TYPE_CHECKING:
    from ledger.domain.identity import IdentityKey

#: The master key of protected identities (``bloodledger audit cipher-key`` makes one).
CIPHER_KEY_ENV = "BLOODLEDGER_CIPHER_KEY"

#: Allocations between young-generation collections (Python's default: 700).
YOUNG_GENERATION_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Run the cycle collector less often.

    Ingest and projection allocate many short-lived objects (facts, events,
    rows) that reference counting frees at once; at the default threshold the
    cycle collector runs every 700 allocations and, every few runs, walks the
    aggregates kept in memory. Measured here: ingest about 12 % faster, a
    projection rebuild about 17 %. Memory stays bounded: little of what these
    commands allocate is cyclic, and what is gets collected all the same.
    """
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 20, 20)


class _OneLineFormatter(logging.Formatter):
    """Log lines stay lines: a library's exception is shown as its type and first line.

    kafka-python logs some of its own network errors with a traceback (a socket
    closed under it while the broker restarts, say); an operator needs to know
    it happened, not the library's call stack. The ledger's own loggers keep
    their tracebacks (with ``-v``, for debugging).
    """

    def __init__(self, fmt: str, *, keep_tracebacks: bool) -> None:
        super().__init__(fmt)
        self.keep_tracebacks = keep_tracebacks

    def format(self, record: logging.LogRecord) -> str:
        ours = record.name.startswith("bloodledger")
        if record.exc_info and record.exc_info[1] and not (self.keep_tracebacks and ours):
            error = record.exc_info[1]
            message = f"{record.getMessage()} ({type(error).__name__}: {first_line(error)})"
            plain = {"msg": message, "args": None, "exc_info": None, "exc_text": None}
            record = logging.makeLogRecord({**record.__dict__, **plain})
        return super().format(record)


def configure_logging(*, verbose: bool) -> None:
    """One line per event on stderr; the Kafka client's chatter only from warnings up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _OneLineFormatter("%(asctime)s %(name)s %(levelname)s %(message)s", keep_tracebacks=verbose)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("kafka").setLevel(logging.WARNING)


class InvalidCipherKey(ValueError):
    """``BLOODLEDGER_CIPHER_KEY`` holds something that is not a key (exit status 2)."""


def cipher_key(environ: Mapping[str, str] | None = None) -> IdentityKey | None:
    """The identity key from ``BLOODLEDGER_CIPHER_KEY`` (``None``: unset or empty).

    Read here, at the entrypoint, and handed to :func:`ledger.bootstrap.open_ledger`:
    the store says whether it needs one and which. Raises :class:`InvalidCipherKey`,
    one line, if the variable holds anything but 32 bytes in base64.
    """
    from ledger.domain.identity import IdentityKey, IdentityKeyError

    text = (os.environ if environ is None else environ).get(CIPHER_KEY_ENV, "").strip()
    if not text:
        return None
    try:
        return IdentityKey(text)
    except IdentityKeyError as error:
        msg = f"{CIPHER_KEY_ENV} is not a usable key: {error}"
        raise InvalidCipherKey(msg) from None


def stop_on_signals(command: str) -> threading.Event:
    """An event set by SIGTERM or SIGINT: long-running commands stop after their current batch."""
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("bloodledger").info(
            "%s: signal %d, stopping after the current batch", command, signum
        )
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stopping
