"""``bloodledger schemas check NEW_DIR``: may a proposed ``schemas/`` directory replace the
ledger's?

The contract changes by review (``schemas/README.md``, "Evolution rules"): a maintainer
proposes a directory, and this command says whether it keeps every promise the manifest
already made, the way a Schema Registry's compatibility check would, schema by schema:

- every id already in the manifest (``--against DIR``: the ledger's ``schemas/`` by
  default) is still there, under the same subject, with the same schema (the same
  Parsing Canonical Form: a doc may change, what is written and read may not);
- within each subject, every version reads the data of every older one (backward: the
  ledger, reading everything through the latest, reads every message ever written), and
  every older version reads the data of every newer one (forward: a consumer not yet
  upgraded reads what an upgraded producer writes) — except a new event type or enum
  symbol, which Avro cannot read into a reader that lacks it and the contract allows: it
  is reported as a note (deploy readers first; until then such messages are
  dead-lettered, ``UNKNOWN_EVENT_TYPE`` / ``BAD_ENUM``).

The rules are Avro's own (:mod:`ledger.adapters.avro_resolution`). CI runs it on
``schemas/`` itself, so the whole history is checked on every change. Exit status: 0
compatible (notes allowed); 1 incompatible (each problem listed); 2 the check could not
run (a directory or manifest that cannot be read: one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ledger.adapters.avro_catalogue import RegisteredVersion, SchemaCatalogue
from ledger.adapters.avro_resolution import compare, parsed

EXIT_INCOMPATIBLE = 1
EXIT_CANNOT_RUN = 2


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    schemas = subparsers.add_parser(
        "schemas",
        help="check a proposed schemas/ directory against the manifest's ids (Avro rules)",
        parents=[common],
    )
    schemas.add_argument("action", choices=("check",), metavar="check")
    schemas.add_argument("directory", type=Path, metavar="NEW_DIR", help="the proposed schemas/")
    schemas.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="the schemas whose ids must be kept (default: the ledger's, or $BLOODLEDGER_SCHEMAS)",
    )
    schemas.add_argument("--json", action="store_true", help="print one JSON document")


@dataclass
class Verdict:
    """One schema id of the proposal (or of the baseline, if the proposal lost it)."""

    subject: str
    schema_id: int
    file: str
    #: ``kept`` (as registered), ``new``, ``changed`` (another schema under a registered
    #: id) or ``removed``.
    status: str
    #: The ids of its subject whose data it reads, and that read its data.
    reads: list[int] = field(default_factory=list)
    read_by: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check(baseline: SchemaCatalogue, proposal: SchemaCatalogue) -> list[Verdict]:
    """Every id of both directories, judged (see the module's rules)."""
    verdicts: list[Verdict] = []
    for subject in _manifest_subjects(baseline, proposal):
        registered = _by_id(baseline, subject)
        proposed = _by_id(proposal, subject)
        for schema_id, old in sorted(registered.items()):
            if schema_id not in proposed:
                problem = (
                    f"id {schema_id} is gone: messages already written with it could no "
                    "longer be read (ids are never removed)"
                )
                verdicts.append(Verdict(subject, schema_id, _file(baseline, old), "removed",
                                        problems=[problem]))  # fmt: skip
        ids = sorted(proposed)
        for schema_id in ids:
            new = proposed[schema_id]
            verdict = Verdict(subject, schema_id, _file(proposal, new), "new")
            was = registered.get(schema_id)
            if was is not None and was.canonical == new.canonical:
                verdict.status = "kept"
            elif was is not None:
                verdict.status = "changed"
                verdict.problems.append(
                    f"id {schema_id} is another schema than the one registered under it "
                    f"({_file(baseline, was)}): messages already written with it would be "
                    "misread (a registered version is never edited; a change is a new id)"
                )
            _judge_pairs(verdict, new, [proposed[i] for i in ids if i != schema_id])
            verdicts.append(verdict)
    return verdicts


def _judge_pairs(verdict: Verdict, new: RegisteredVersion, others: list[RegisteredVersion]) -> None:
    """``new`` against every older version of its subject: each older one's data read with
    it, and its data read with each older one. A note is only for what ``new`` itself
    adds: what an older reader already lacked of the version before ``new`` is that
    version's note."""
    older = [v for v in others if v.schema_id < new.schema_id]
    for other in older:
        both = compare(parsed(other.definition), parsed(new.definition))
        label = f"id {other.schema_id}"
        if not both.backward:
            verdict.reads.append(other.schema_id)
        if not both.breaking:
            verdict.read_by.append(other.schema_id)
        verdict.problems += [f"{label}'s messages, read with it: {f}" for f in both.backward]
        verdict.problems += [
            f"its messages, read with {label}: {f}" for f in both.forward if not f.narrows
        ]
        before = max((v for v in older if v.schema_id > other.schema_id),
                     key=lambda v: v.schema_id, default=None)  # fmt: skip
        known = set(compare(parsed(other.definition), parsed(before.definition)).narrowing
                    if before is not None else ())  # fmt: skip
        verdict.notes += [
            f"readers of {label} dead-letter its messages that use what they lack: {f}"
            for f in both.narrowing
            if f not in known
        ]


def _manifest_subjects(*catalogues: SchemaCatalogue) -> list[str]:
    subjects: list[str] = []
    for catalogue in catalogues:
        for subject in (catalogue.events_subject, catalogue.notices_subject):
            if subject is not None and subject not in subjects:
                subjects.append(subject)
    return subjects


def _by_id(catalogue: SchemaCatalogue, subject: str) -> dict[int, RegisteredVersion]:
    if subject not in (catalogue.events_subject, catalogue.notices_subject):
        return {}
    return {v.schema_id: v for v in catalogue.versions(subject)}


def _file(catalogue: SchemaCatalogue, version: RegisteredVersion) -> str:
    try:
        return str(version.path.relative_to(catalogue.schema_dir))
    except ValueError:
        return str(version.path)


def report(verdicts: list[Verdict], proposal: Path, baseline: Path) -> str:
    """The verdicts as text: one block per subject, one line per id, then its problems and
    notes, and the conclusion."""
    lines = [f"schemas check: {proposal} against the ids of {baseline}"]
    subject = None
    for v in verdicts:
        if v.subject != subject:
            subject = v.subject
            lines.append(subject)
        relations = []
        if v.reads:
            relations.append(f"reads the messages of {_ids(v.reads)}")
        if v.read_by:
            relations.append(f"its messages read by {_ids(v.read_by)}")
        tail = f": {'; '.join(relations)}" if relations else ""
        lines.append(f"  id {v.schema_id}  {v.file}  {v.status}{tail}")
        lines += [f"    PROBLEM {p}" for p in v.problems]
        lines += [f"    note {n}" for n in v.notes]
    problems = sum(len(v.problems) for v in verdicts)
    notes = sum(len(v.notes) for v in verdicts)
    if problems:
        lines.append(f"INCOMPATIBLE: {problems} problem(s); the proposal would break a promise")
    else:
        lines.append(
            "compatible: every id kept; every version reads the messages of the older ones, "
            "and they read its messages"
            + (f" (but for {notes} note(s): what an older reader lacks)" if notes else "")
        )
    return "\n".join(lines)


def _ids(ids: list[int]) -> str:
    return ("id " if len(ids) == 1 else "ids ") + ", ".join(map(str, ids))


def run(args: argparse.Namespace) -> int:
    from ledger.adapters.avro import default_schema_dir

    baseline_dir = args.against if args.against is not None else default_schema_dir()
    catalogues = []
    for directory in (baseline_dir, args.directory):
        try:
            catalogues.append(SchemaCatalogue(directory))
        except Exception as error:  # any file that is not what it must be: one line
            text = str(error).strip().splitlines()
            why = text[0] if text else type(error).__name__
            print(f"bloodledger schemas check: {directory}: {why}", file=sys.stderr)
            return EXIT_CANNOT_RUN
    verdicts = check(*catalogues)
    broken = any(v.problems for v in verdicts)
    if args.json:
        document = {"compatible": not broken, "schemas": [asdict(v) for v in verdicts]}
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(report(verdicts, args.directory, baseline_dir))
    return EXIT_INCOMPATIBLE if broken else 0
