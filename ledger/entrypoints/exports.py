"""``bloodledger export ...``: the ledger's records in standard formats (parser and handlers).

``export fhir --din DIN`` writes the donation's units as a FHIR R5 ``Bundle``
(type ``collection``) of ``BiologicallyDerivedProduct`` and
``BiologicallyDerivedProductDispense`` resources, rendered by
:mod:`ledger.adapters.fhir`; patient identifiers revealed with
``BLOODLEDGER_CIPHER_KEY``, as every output of the CLI (or withheld).

Exit status: 0 written; 1 the DIN has no units in the ledger; 2 the command could
not run (a malformed DIN, a store that cannot be opened: one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from ledger.entrypoints.arguments import timestamp

NOT_FOUND = 1
UNUSABLE = 2


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    export = subparsers.add_parser(
        "export", help="the ledger's records in a standard format (FHIR R5)", parents=[common]
    )
    formats = export.add_subparsers(dest="export_format", required=True, metavar="FORMAT")
    fhir = formats.add_parser(
        "fhir",
        help="a donation's units as a FHIR R5 Bundle of BiologicallyDerivedProduct(Dispense)s",
        parents=[common],
    )
    fhir.add_argument("--din", required=True, metavar="DIN", help="13-character DIN")
    fhir.add_argument(
        "--product", metavar="CODE", help="one unit's product code (default: all units)"
    )
    fhir.add_argument("--out", type=Path, metavar="FILE", help="write here (default: stdout)")
    fhir.add_argument(
        "--known-at",
        type=timestamp,
        metavar="ISO-8601",
        help="what the ledger knew then: only facts it had recorded by that moment",
    )
    fhir.add_argument(
        "--withhold-patients",
        action="store_true",
        help="reference patients without their identifiers",
    )
    fhir.add_argument(
        "--store",
        help="event store URL: sqlite:///ledger.db (default, or $BLOODLEDGER_STORE) "
        "or postgresql://user@host:5432/db[?schema=name]",
    )


def run(args: argparse.Namespace) -> int:
    return EXPORT_COMMANDS[args.export_format](args)


def _fhir(args: argparse.Namespace) -> int:
    from ledger.adapters.fhir import fhir_bundle
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import open_ledger
    from ledger.domain.din import InvalidDIN, validate_din
    from ledger.entrypoints.runtime import cipher_key

    try:
        validate_din(args.din)
    except InvalidDIN as e:
        print(f"bloodledger export fhir: {e}", file=sys.stderr)
        return UNUSABLE
    ledger = open_ledger(resolve_store(args.store), create=False, identity_key=cipher_key())
    try:
        units = ledger.units_of(args.din, args.product, known_at=args.known_at)
        bundle = fhir_bundle(
            units, bundle_type="collection", show_patients=not args.withhold_patients
        )
        document = ledger.identities.revealed(bundle)
    finally:
        ledger.close()
    if not units:
        what = "that DIN and product code" if args.product else "that DIN"
        print(f"bloodledger export fhir: the ledger has no unit of {what}", file=sys.stderr)
        return NOT_FOUND
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


EXPORT_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"fhir": _fhir}
