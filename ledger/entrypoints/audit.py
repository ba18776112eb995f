"""``bloodledger audit ...``: the audit log's commands (parser and handlers).

Sealing, status, verification, exports and their checks, witnesses, trails
and keys: what an operator runs beside the ledger and what a regulator runs
on what it receives. Handlers are thin; the work is in
:mod:`ledger.services.sealer`, :mod:`ledger.services.audit` and
:mod:`ledger.services.witness`, wired by :mod:`ledger.bootstrap`.

Exit status: 0 done / verified; 1 a check failed (the problems on stderr, the
first naming the fact or file); 2 the command could not run (one line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.entrypoints import witness
from ledger.entrypoints.arguments import timestamp

if TYPE_CHECKING:
    from ledger.bootstrap import Audit, AuditSettings

KEY_ENV = "BLOODLEDGER_AUDIT_KEY"
CHECKPOINTS_ENV = "BLOODLEDGER_CHECKPOINTS"
WITNESSES_ENV = "BLOODLEDGER_WITNESSES"
FAILED = 1


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
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

    seal = action("seal", help="append the log's facts to the audit tree; sign checkpoints")
    _add_store(seal)
    add_seal_arguments(seal)
    seal.add_argument("--follow", action="store_true", help="keep sealing as facts arrive")
    seal.add_argument(
        "--bootstrap", metavar="HOST:PORT", help="also publish to the bloodledger.checkpoints topic"
    )

    status = action("status", help="tree size, last checkpoint, facts not yet sealed, witnesses")
    _add_store(status)
    status.add_argument("--json", action="store_true")

    verify = action("verify", help="recompute the tree from the store; check every checkpoint")
    _add_store(verify)
    _add_checkpoints(verify)
    verify.add_argument("--vkey", type=Path, help="verifier key (default: DIR/vkey)")
    verify.add_argument("--json", action="store_true")

    export = action("export", help="write a self-contained bundle a regulator verifies offline")
    export.add_argument("--out", required=True, type=Path, metavar="DIR")
    what = export.add_mutually_exclusive_group(required=True)
    what.add_argument("--din", metavar="DIN")
    what.add_argument("--facility", metavar="FIN")
    what.add_argument("--donor", metavar="ID")
    what.add_argument("--patient", metavar="ID")
    export.add_argument("--from", dest="since", type=timestamp, metavar="T")
    export.add_argument("--to", dest="until", type=timestamp, metavar="T")
    _add_store(export)
    _add_key(export)
    _add_checkpoints(export)

    check = action("verify-bundle", help="check a bundle: no database, no network")
    check.add_argument("bundle", type=Path, metavar="DIR")
    check.add_argument(
        "--trusted-checkpoint",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint received earlier: the bundle must prove the log grew from it",
    )
    check.add_argument(
        "--vkey",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="the ledger's verifier key as you received it: the bundle's must be it",
    )
    check.add_argument("--json", action="store_true")

    cosigned = action("cosignature", help="store witnesses' cosignatures of published checkpoints")
    cosigned.add_argument("files", nargs="+", type=Path, metavar="FILE")
    cosigned.add_argument(
        "--witness",
        type=Path,
        action="append",
        default=[],
        metavar="VKEY",
        help=f"a witness's verifier key file (also ${WITNESSES_ENV}: paths, ':'-separated)",
    )
    _add_store(cosigned)
    _add_checkpoints(cosigned)

    trail = action("trail", help="what an actor or a facility reported, with tree indexes")
    who = trail.add_mutually_exclusive_group(required=True)
    who.add_argument("--actor", metavar="ID")
    who.add_argument("--facility", metavar="FIN")
    trail.add_argument("--from", dest="since", type=timestamp, metavar="T")
    trail.add_argument("--to", dest="until", type=timestamp, metavar="T")
    trail.add_argument("--json", action="store_true")
    _add_store(trail)

    witness.add_parser(actions, common)


def add_seal_arguments(parser: argparse.ArgumentParser, *, inside: bool = False) -> None:
    """What sealing takes: the key, the publication, how often (``inside``: for the
    commands that seal beside their own work, ``ingest --seal`` and ``project --seal``)."""
    if inside:
        parser.add_argument(
            "--seal", action="store_true", help="also seal the audit log after each batch"
        )
    _add_key(parser)
    _add_checkpoints(parser)
    parser.add_argument(
        "--every", type=int, default=10_000, metavar="N", help="facts per checkpoint"
    )
    parser.add_argument(
        "--interval", type=float, default=60.0, metavar="S", help="seconds a fact waits at most"
    )


def seal_settings(args: argparse.Namespace) -> AuditSettings:
    """The audit settings the sealing arguments give."""
    from ledger.bootstrap import AuditSettings
    from ledger.services.sealer import SealSettings

    return AuditSettings(
        keys=_keys(args),
        checkpoints=_checkpoints(args),
        bootstrap=getattr(args, "bootstrap", None),
        seal=SealSettings(every=args.every, interval=args.interval),
    )


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="event store URL (default $BLOODLEDGER_STORE)")


def _add_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="DIR",
        help=f"signing key directory (or ${KEY_ENV}); twice while rotating to a new key",
    )


def _add_checkpoints(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoints",
        type=Path,
        metavar="DIR",
        help=f"where checkpoints are published (or ${CHECKPOINTS_ENV})",
    )


def _checkpoints(args: argparse.Namespace) -> Path:
    folder = args.checkpoints or os.environ.get(CHECKPOINTS_ENV)
    if not folder:
        raise ValueError(f"give --checkpoints DIR or set {CHECKPOINTS_ENV}")
    return Path(folder)


def _audit(args: argparse.Namespace, settings: AuditSettings) -> Audit:
    """The audit log of ``--store``, with the cipher key if one is set."""
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import open_audit
    from ledger.entrypoints.runtime import cipher_key

    return open_audit(resolve_store(args.store), settings, identity_key=cipher_key())


def _keys(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(args.key) or tuple(filter(None, [os.environ.get(KEY_ENV)]))


def _keygen(args: argparse.Namespace) -> int:
    from ledger.adapters.keys import write_signing_key

    print(write_signing_key(args.name, args.out))
    return 0


def _cipher_key(args: argparse.Namespace) -> int:
    from ledger.domain.identity import generate_master_key

    print(generate_master_key())
    return 0


def _seal(args: argparse.Namespace) -> int:
    from ledger.entrypoints.progress import ProgressBar
    from ledger.entrypoints.runtime import stop_on_signals
    from ledger.services.sealer import Sealed

    settings = seal_settings(args)
    with _audit(args, settings) as audit:
        sealer = audit.sealer()
        sealer.republish()
        if args.follow:
            stopping = stop_on_signals("audit seal")
            followed = sealer.follow(stop=stopping.is_set)
            rest = sealer.seal()  # a clean stop leaves nothing recorded unsealed
            sealed = Sealed(
                followed.facts + rest.facts, followed.checkpoints + rest.checkpoints, rest.size
            )
        else:
            bar = ProgressBar("seal") if sys.stderr.isatty() else None
            sealed = sealer.seal(progress=bar)
            if bar is not None:
                bar.finish()
    print(
        f"sealed {sealed.facts} facts in {sealed.checkpoints} checkpoints; tree size {sealed.size}"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from ledger.bootstrap import AuditSettings
    from ledger.services.audit import status

    with _audit(args, AuditSettings()) as audit:
        document = status(audit.ledger.event_log, audit.store, datetime.now(UTC))
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    last = document["last_checkpoint"]
    print(f"tree size {document['tree_size']}, log head {document['log_head']}")
    print(f"not yet sealed: {document['unsealed']} facts")
    if last is None:
        print("no checkpoint signed yet")
    else:
        print(
            f"last checkpoint: size {last['size']}, root {last['root']}, "
            f"signed {last['sealed_at']} ({last['age_s']:.0f} s ago); "
            f"{document['checkpoints']} checkpoints in all"
        )
    for name, seen in document["witnesses"].items():
        print(f"witness {name}: cosigned {seen['cosigned']} checkpoints, latest {seen['latest']}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ledger.adapters.checkpoints import CheckpointDirectory
    from ledger.adapters.keys import load_verifier_key
    from ledger.bootstrap import AuditSettings
    from ledger.entrypoints.progress import ProgressBar
    from ledger.services.audit import verify_store

    folder = _checkpoints(args)
    vkey = load_verifier_key(args.vkey or folder)
    published = list(CheckpointDirectory(folder).all())
    bar = ProgressBar("verify") if sys.stderr.isatty() else None
    with _audit(args, AuditSettings()) as audit:
        report = verify_store(audit.ledger.event_log, audit.store, published, vkey, bar)
    if bar is not None:
        bar.finish()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(
            f"{report.facts} facts recomputed; {len(report.checkpoints)} of {len(published)} "
            f"published checkpoints verified"
        )
    for problem in report.problems:
        print(f"bloodledger audit verify: {problem}", file=sys.stderr)
    return 0 if report.ok else FAILED


def _export(args: argparse.Namespace) -> int:
    from ledger.adapters.bundles import write_bundle
    from ledger.bootstrap import AuditSettings
    from ledger.services.audit import ExportRequest

    kind = next(k for k in ("din", "facility", "donor", "patient") if getattr(args, k))
    request = ExportRequest(kind, getattr(args, kind), args.since, args.until)
    settings = AuditSettings(keys=_keys(args), checkpoints=_checkpoints(args))
    with _audit(args, settings) as audit:
        files = audit.exporter().export(request, reveal=audit.ledger.identities.key is not None)
    write_bundle(args.out, files)
    entries = sum(1 for name in files if name.startswith("entries/"))
    print(f"bundle written to {args.out}: {entries} facts with their proofs")
    return 0


def _verify_bundle(args: argparse.Namespace) -> int:
    from ledger.adapters.bundles import read_bundle
    from ledger.adapters.keys import load_verifier_key
    from ledger.domain.bundle import verify_bundle

    files = read_bundle(args.bundle)
    trusted = [path.read_bytes() for path in args.trusted_checkpoint]
    keys = [load_verifier_key(path) for path in args.vkey]
    report = verify_bundle(files, trusted, keys)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    elif report.ok:
        print(
            f"OK: {report.entries} facts ({report.selected} selected) in {report.chains} complete "
            f"chains, included in the tree of {report.size}; consistent with "
            f"{len(report.consistency)} earlier and {len(report.trusted)} trusted checkpoints; "
            f"{report.revealed} identifiers checked against their seals"
        )
    for problem in report.problems:
        print(f"bloodledger audit verify-bundle: {problem}", file=sys.stderr)
    return 0 if report.ok else FAILED


def _cosignature(args: argparse.Namespace) -> int:
    from ledger.bootstrap import AuditSettings

    keys = list(args.witness)
    keys += [Path(p) for p in os.environ.get(WITNESSES_ENV, "").split(":") if p]
    settings = AuditSettings(checkpoints=_checkpoints(args))
    with _audit(args, settings) as audit:
        stored = audit.receive_cosignatures([p.read_bytes() for p in args.files], keys)
    print(f"{stored} new cosignatures stored")
    return 0


def _trail(args: argparse.Namespace) -> int:
    from ledger.bootstrap import AuditSettings
    from ledger.services.audit import trail

    with _audit(args, AuditSettings()) as audit:
        rows = trail(
            audit.store,
            actor=args.actor,
            facility=args.facility,
            since=args.since,
            until=args.until,
        )
        unsealed = max(0, audit.ledger.event_log.head() - audit.store.size_and_position()[1])
    if args.json:
        print(json.dumps({"facts": rows, "unsealed_not_listed": unsealed}, indent=2))
        return 0
    for r in rows:
        unit = f"{r['din']} {r['product_code'] or ''}".rstrip()
        who = f"{r['facility']}  {r['actor'] or '-'}"
        print(f"{r['index']:>9}  {r['occurred_at']}  {who}  {r['event_type']}  {unit}")
    print(f"{len(rows)} facts; {unsealed} recorded after the last seal are not listed")
    return 0


AUDIT_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "keygen": _keygen,
    "cipher-key": _cipher_key,
    "seal": _seal,
    "status": _status,
    "verify": _verify,
    "export": _export,
    "verify-bundle": _verify_bundle,
    "cosignature": _cosignature,
    "trail": _trail,
    "witness": witness.run,
}


def run(args: argparse.Namespace) -> int:
    return AUDIT_COMMANDS[args.audit_command](args)
