"""The sealer beside ``ingest --seal`` and ``project --seal``: a process of its own.

Sealing costs about as much CPU per fact as storing it. Run in the ingest's own thread,
after each batch, it took 35 % of the ingest's throughput; in a second thread, 48 %
(one interpreter lock for both). In a process of its own it runs on the other core
while the ingest waits on the store and the broker, and costs the ingest 6.5 %
(``docs/performance.md``). So ``--seal`` starts ``bloodledger audit seal --follow`` with
the same store, key, publication and pace, restarts it if it dies, and on a clean
stop asks it to stop too and waits while it seals what is left: the last published
checkpoint then covers every fact the command stored. The sealer's own transaction
(position and tree nodes together) makes two of them, or a restarted one, safe.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time

log = logging.getLogger("bloodledger")

#: Seconds between restarts of a sealer that keeps dying (its error is in the log).
RESTART_AFTER_S = 5.0


def sealer_command(args: argparse.Namespace) -> list[str]:
    """``audit seal --follow`` with the sealing arguments of ``args`` (its environment —
    ``BLOODLEDGER_STORE``, ``BLOODLEDGER_CIPHER_KEY``, the key and checkpoint variables —
    is inherited)."""
    command = [sys.executable, "-m", "ledger.entrypoints.cli", "audit", "seal", "--follow"]
    if args.store:
        command += ["--store", args.store]
    for key in args.key:
        command += ["--key", key]
    if args.checkpoints:
        command += ["--checkpoints", str(args.checkpoints)]
    command += ["--every", str(args.every), "--interval", str(args.interval)]
    if getattr(args, "bootstrap", None):
        command += ["--bootstrap", args.bootstrap]
    return command


class CompanionSealer:
    """One ``audit seal --follow`` process, kept running beside a long command."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command)
        self.started_at = time.monotonic()

    def check(self) -> None:
        """Restart the sealer if it has died (called after each batch; cheap)."""
        if self.process is None or self.process.poll() is None:
            return
        if time.monotonic() - self.started_at < RESTART_AFTER_S:
            return
        log.warning("the sealer exited with status %d; starting it again", self.process.returncode)
        self.start()

    def stop(self, timeout_s: float = 120.0) -> int:
        """Ask the sealer to stop (it seals what is left first) and wait for it."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.error("the sealer did not stop in %.0f s; killed (it resumes next time)", timeout_s)
            self.process.kill()
            return self.process.wait()
