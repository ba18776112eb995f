"""``bloodledger report KIND ...``: the quality, hemovigilance and inventory reports.

::

    bloodledger report qc --facility FIN --from DATE --to DATE
        [--format html|pdf|json] [--lang zh|en] [--out FILE] [--store URL]
    bloodledger report hemovigilance ...   (the same arguments)
    bloodledger report inventory ... [--step-hours H] [--window-days N --yellow D ...]

``--format`` defaults to what ``--out``'s suffix says (``qc.pdf``: a PDF), else HTML.
``--from`` and ``--to`` are dates (the whole of ``--to`` included) or ISO-8601 instants
with a timezone (``--to`` then excluded). ``--out FILE`` writes the report there (a
whole file or none: written aside, then moved in place); without it HTML and JSON go
to stdout, and a PDF, being binary, needs ``--out``. The read models are brought up
to date first (with a progress bar when that is long work, as after an upgrade).

The documents and renderings are :mod:`ledger.entrypoints.quality`'s. Exit status:
0 written; 2 the report could not be made (one line on stderr: a bad facility,
window, language, a missing CJK font, a store that cannot be opened).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.domain.din import is_fin
from ledger.entrypoints.i18n import DEFAULT_LANGUAGE

if TYPE_CHECKING:
    from ledger.domain.inventory import AlertPolicy

#: The reports (as :data:`ledger.entrypoints.quality.KINDS`; repeated here so that
#: ``bloodledger --help`` does not load matplotlib and WeasyPrint).
KINDS = ("qc", "hemovigilance", "inventory")
FORMATS = ("html", "pdf", "json")
#: Read models further behind than this many events are caught up with a progress bar.
LONG_CATCH_UP = 5000
#: A report's own steps show a progress bar only once it has run this long.
PROGRESS_AFTER_S = 1.0


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """The ``report`` command's parser (returned: the CLI adds its inventory
    threshold arguments, shared with ``inventory`` and ``alerts``)."""
    report = subparsers.add_parser(
        "report",
        help="quality-control, hemovigilance and inventory reports (HTML, PDF, JSON)",
        parents=[common],
        description="A facility's report over a period, in Chinese or English.",
    )
    report.add_argument("kind", choices=KINDS, metavar="KIND", help=", ".join(KINDS))
    report.add_argument(
        "--facility", required=True, metavar="FIN", help="the facility (ISBT 128 FIN, e.g. S3102)"
    )
    report.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="DATE",
        help="first day (YYYY-MM-DD, UTC) or an ISO-8601 instant",
    )
    report.add_argument(
        "--to",
        dest="end",
        required=True,
        metavar="DATE",
        help="last day, included (YYYY-MM-DD), or an ISO-8601 instant, excluded",
    )
    report.add_argument(
        "--format",
        choices=FORMATS,
        help="default: from --out's suffix (.pdf, .json, .html), else html",
    )
    report.add_argument(
        "--lang",
        default=DEFAULT_LANGUAGE.split("_")[0],
        metavar="zh|en",
        help="language of the report (default zh: Simplified Chinese)",
    )
    report.add_argument("--out", metavar="FILE", help="write here (needed for a PDF)")
    report.add_argument(
        "--step-hours",
        type=float,
        default=24.0,
        metavar="H",
        help="inventory: hours between samples (default 24)",
    )
    report.add_argument(
        "--store",
        help="event store URL (default $BLOODLEDGER_STORE or sqlite:///bloodledger.db)",
    )
    return report


def bound(text: str, *, end: bool) -> datetime:
    """A ``--from``/``--to`` value as an instant: a date is its midnight (UTC) — the
    next day's for ``--to``, so the day is included; an instant needs a timezone."""
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        which = "--to" if end else "--from"
        raise ValueError(f"{which}: not a date (YYYY-MM-DD) or ISO-8601 instant") from None
    if moment.tzinfo is None:
        raise ValueError("give the instant's timezone, e.g. 2026-09-01T08:00:00Z")
    return moment.astimezone(UTC)


def run(args: argparse.Namespace, policy: AlertPolicy) -> int:
    """Make the report and write it (see the module's exit statuses)."""
    from ledger.entrypoints.charts import MissingCjkFont
    from ledger.entrypoints.i18n import language
    from ledger.entrypoints.quality import PdfUnavailable

    args.format = args.format or fmt_of(args.out)
    problem = _refusal(args, language(args.lang))
    if problem:
        print(f"bloodledger report: {problem}", file=sys.stderr)
        return 2
    start, end = bound(args.start, end=False), bound(args.end, end=True)
    try:
        content = _report(args, policy, start, end)
    except (MissingCjkFont, PdfUnavailable) as error:
        print(f"bloodledger report: {error}", file=sys.stderr)
        return 2
    if args.out:
        _write(Path(args.out), content)
    else:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    return 0


def fmt_of(out: str | None) -> str:
    """The format ``--out``'s suffix names (html when it names none)."""
    suffix = Path(out).suffix.lower().lstrip(".") if out else ""
    return {"htm": "html"}.get(suffix, suffix) if suffix in (*FORMATS, "htm") else "html"


def _refusal(args: argparse.Namespace, lang: str | None) -> str | None:
    """Why the arguments cannot make a report, before any store is opened."""
    if not is_fin(args.facility):
        return "--facility must be an ISBT 128 Facility Identification Number (e.g. S3102)"
    if lang is None:
        return "--lang must be zh (Simplified Chinese) or en"
    if args.format == "pdf" and not args.out:
        return "a PDF is binary: give --out FILE"
    if args.step_hours < 1:
        return "--step-hours must be at least 1"
    return None


def _report(args: argparse.Namespace, policy: AlertPolicy, start: datetime, end: datetime) -> bytes:
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import open_read_models_of
    from ledger.entrypoints.progress import ProgressBar
    from ledger.entrypoints.quality import render_report, report_document
    from ledger.entrypoints.runtime import cipher_key

    store = resolve_store(args.store)
    with open_read_models_of(store, create=False, identity_key=cipher_key()) as models:
        if models.projector.lag() > LONG_CATCH_UP:
            bar = ProgressBar("bringing the read models up to date")
            models.projector.catch_up(progress=bar)
            bar.finish()
        else:
            models.projector.catch_up()
        steps = LateProgress(f"report {args.kind}")
        document = report_document(
            args.kind,
            models.view,
            args.facility,
            start,
            end,
            policy=policy,
            step=timedelta(hours=args.step_hours),
            progress=steps,
        )
    content = render_report(args.kind, document, args.format, args.lang)
    steps.finish()
    return content


class LateProgress:
    """A progress bar that appears only once the work has taken
    :data:`PROGRESS_AFTER_S`: a report made in a moment prints nothing."""

    def __init__(self, label: str) -> None:
        from ledger.entrypoints.progress import ProgressBar

        self.bar = ProgressBar(label)
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if self.shown or time.monotonic() - self.started >= PROGRESS_AFTER_S:
            self.shown = True
            self.bar(done, total)

    def finish(self) -> None:
        if self.shown:
            self.bar.finish()


def _write(path: Path, content: bytes) -> None:
    """The whole report at ``path`` or nothing there: written beside it, then renamed."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(content)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ValueError(f"cannot write {path}: {error.strerror or error}") from None
