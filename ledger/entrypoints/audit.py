"""``bloodledger audit ...``: the audit log's commands (parser and handlers).

Sealing, status, verification, exports and their checks, witnesses, trails
and keys: what an operator runs beside the ledger and what a regulator runs
on what it receives. Handlers are thin; the work is in
:mod:`ledger.services.sealer`, :mod:`ledger.services.audit` and
:mod:`ledger.services.witness`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

KEY_ENV = "BLOODLEDGER_AUDIT_KEY"
CHECKPOINTS_ENV = "BLOODLEDGER_CHECKPOINTS"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    audit = subparsers.add_parser(
        "audit", help="the audit log: seal, verify, export, witness", parents=[common]
    )
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    def action(name: str, help: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, help=help, parents=[common])

    keygen = action("keygen", help="make the ledger's Ed25519 signing key and its verifier key")
    keygen.add_argument("--name", required=True, help="key name = the log's origin")
    keygen.add_argument("--out", required=True, type=Path, metavar="DIR")

    action("cipher-key", help="make a key for BLOODLEDGER_CIPHER_KEY (identifiers at rest)")


def _keygen(args: argparse.Namespace) -> int:
    from ledger.adapters.keys import write_signing_key

    vkey = write_signing_key(args.name, args.out)
    print(vkey)
    return 0


def _cipher_key(args: argparse.Namespace) -> int:
    from ledger.domain.identity import generate_master_key

    print(generate_master_key())
    return 0


AUDIT_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "keygen": _keygen,
    "cipher-key": _cipher_key,
}


def run(args: argparse.Namespace) -> int:
    return AUDIT_COMMANDS[args.audit_command](args)


def fail(action: str, message: str, status: int = 2) -> int:
    print(f"bloodledger audit {action}: {message}", file=sys.stderr)
    return status
