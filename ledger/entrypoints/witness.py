"""``bloodledger audit witness``: cosign the ledger's checkpoint if it is consistent.

What a regulator runs after each publication: the checkpoint's signature is
checked with the ledger's verifier key, its tree proved to extend the last one
this witness accepted through the published consistency proofs, and the
checkpoint printed with the witness's cosignature added. The logic is
:class:`ledger.services.witness.Witness`; the state directory and the
publication are :mod:`ledger.adapters.witness_state`.

Exit status: 0 cosigned (the note on stdout); 1 refused (one line on stderr,
nothing changed); 3 a fork (a line starting ``FORK:`` on stderr, the evidence
under ``--state DIR/forks``); 2 the command could not run (a missing file, an
unreadable key).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

from ledger.adapters.keys import KeyFileError, load_verifier_key
from ledger.adapters.witness_state import PublishedDirectory, WitnessDirectory, publication_of
from ledger.services.witness import Cosigned, Forked, Refused, Witness

ACTION = "witness"
REFUSED = 1
UNUSABLE = 2
FORK = 3


def default_name() -> str:
    return f"witness/{socket.gethostname()}"


def add_parser(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    witness = actions.add_parser(
        ACTION,
        help="cosign a checkpoint if it is consistent with every one this witness accepted",
        description="Check the ledger's signed CHECKPOINT, prove it extends the last one "
        "this witness accepted (through the published consistency proofs), and print it "
        "with the witness's cosignature added. Exit 0 cosigned, 1 refused, 2 unusable "
        "arguments, 3 a fork (evidence kept in DIR/forks; nothing is cosigned until it is "
        "removed).",
        parents=[common],
    )
    witness.add_argument(
        "--vkey", required=True, type=Path, metavar="FILE", help="the ledger's verifier key"
    )
    witness.add_argument(
        "--state",
        required=True,
        type=Path,
        metavar="DIR",
        help="the witness's own directory: its key, accepted checkpoints, forks",
    )
    witness.add_argument(
        "--published",
        type=Path,
        metavar="DIR",
        help="the ledger's publication (checkpoints/, consistency/); default: where "
        "CHECKPOINT is, if it is DIR/checkpoint or DIR/checkpoints/<size>",
    )
    witness.add_argument(
        "--name",
        help="the witness key's name, when the key is made (default witness/<hostname>)",
    )
    witness.add_argument("checkpoint", type=Path, metavar="CHECKPOINT")


def _say(message: str) -> None:
    print(f"bloodledger audit {ACTION}: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    published_dir: Path | None = args.published or publication_of(args.checkpoint)
    try:
        ledger_key = load_verifier_key(args.vkey)
        data = args.checkpoint.read_bytes()
    except KeyFileError as e:
        _say(str(e))
        return UNUSABLE
    except OSError as e:
        _say(f"cannot read {args.checkpoint}: {e.strerror}")
        return UNUSABLE
    if published_dir is not None and not published_dir.is_dir():
        _say(f"no published directory {published_dir}")
        return UNUSABLE
    state = WitnessDirectory(args.state)
    publication = PublishedDirectory(published_dir) if published_dir is not None else None
    try:
        with state.locked():
            key, made = state.signing_key(args.name or default_name())
            if made:
                _say(
                    f"made the witness key {key.name}; its verifier key "
                    f"(also in {args.state / 'vkey'}): {key.verifier.text()}"
                )
            elif args.name and args.name != key.name:
                _say(
                    f"--name {args.name}: this witness is {key.name} "
                    "(a witness's name is fixed when its key is made)"
                )
                return UNUSABLE
            witness = Witness(ledger_key, key, state, publication, lambda: int(time.time()))
            outcome = witness.submit(data)
    except KeyFileError as e:
        _say(str(e))
        return UNUSABLE
    except OSError as e:
        _say(f"{e.filename or args.state}: {e.strerror}")
        return UNUSABLE
    if isinstance(outcome, Refused):
        _say(f"refused: {outcome.reason}")
        return REFUSED
    if isinstance(outcome, Forked):
        print(outcome.line, file=sys.stderr)
        return FORK
    assert isinstance(outcome, Cosigned)
    checkpoint = outcome.checkpoint.checkpoint
    _say(f"cosigned {checkpoint.origin} size {checkpoint.size}: {outcome.summary}")
    sys.stdout.flush()
    sys.stdout.buffer.write(outcome.note)
    sys.stdout.buffer.flush()
    return 0
