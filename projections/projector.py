"""The projector: follows the event store's notification log into the read models.

The library's SQLite recorder has no push subscription, so the projector
polls: it selects the next page of notifications after the position its view
has recorded, turns the aggregates the page touched into rows (as of that
page: each aggregate at the highest version the page contains, advanced in
memory by the page's events — see :mod:`projections.aggregates`), and
writes the rows with the page's tracking record in one transaction.
Reading each aggregate *as of the page* makes the tables after any page a
function of the log prefix alone — the same whether built incrementally, in
one rebuild, or resumed after a kill.

A unit whose rows come out as the projector last wrote them (a bedside check's
fact changes none of a dispensed unit's rows) is not written again: the tables
are the same either way, and the page costs its tracking record alone. Nor are
its DINs handed to the lookback policy, which reads nothing but those tables.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from eventsourcing.persistence import Notification, Tracking

from ledger.domain.donation import Donation, donation_id, unit_record
from ledger.domain.lookback import LookbackCase
from ledger.domain.unit import BloodUnit, unit_id
from projections.aggregates import KeptAggregates
from projections.ports import EventLog, ReadModelStore
from projections.rows import (
    Changes,
    UnitRows,
    case_row,
    donation_row,
    reactive_result_rows,
    unit_rows,
)

logger = logging.getLogger("bloodledger.projector")

#: Called when a catch-up that applied something reaches the end of the log — the end of
#: a batch, unlike the end of a page — for policies such as lookback, with the DINs whose
#: donation or units it applied events of (``None``: every DIN, after building from the
#: first notification); returns whether it recorded anything (which is then projected too).
AtHead = Callable[[Iterable[str] | None], bool]
#: Called with (position, head) as a catch-up advances.
Progress = Callable[[int, int], None]


class Projector:
    """Keeps one store's read models up to date with its log."""

    def __init__(
        self,
        log: EventLog,
        view: ReadModelStore,
        *,
        page_size: int = 5000,
        at_head: AtHead | None = None,
        keep: int = 5000,
    ) -> None:
        self.log = log
        self.view = view
        self.page_size = page_size
        self.kept = KeptAggregates(log, keep)
        #: Each recently written unit's rows, as written (at most ``keep``, as of the
        #: kept aggregates' position: forgotten with them).
        self.written: OrderedDict[str, UnitRows] = OrderedDict()
        self.at_head = at_head
        self.upstream = log.name

    def position(self) -> int:
        """The last notification id the view has applied (0 if none)."""
        return self.view.max_tracking_id(self.upstream) or 0

    def head(self) -> int:
        """The store's last notification id (0 if empty)."""
        return self.log.head()

    def lag(self) -> int:
        return max(0, self.head() - self.position())

    def catch_up(
        self, progress: Progress | None = None, stop: Callable[[], bool] | None = None
    ) -> int:
        """Apply every notification not yet applied; returns how many were applied."""
        applied = policy_seen = 0
        position = self.position()
        everything = position == 0
        touched: set[str] = set()
        if position != self.kept.position:
            self.written.clear()  # written by this projector at another position
        self.kept.follow_from(position)
        head = self.head()
        while stop is None or not stop():
            page = self.log.page(position + 1, self.page_size)
            if page:
                dins = self._apply(page)
                if not everything:
                    touched |= dins
                applied += len(page)
                position = page[-1].id
                if progress is not None:
                    head = max(head, position)
                    progress(position, head)
            if len(page) == self.page_size:
                continue
            if self.at_head is None or applied == policy_seen or not (everything or touched):
                break
            policy_seen = applied
            recorded = self.at_head(None if everything else touched)
            everything, touched = False, set()
            if not recorded:
                break
        return applied

    def rebuild(self, progress: Progress | None = None) -> int:
        """Empty the read models and build them again from the first notification."""
        self.view.reset(self.upstream)
        return self.catch_up(progress)

    def run(
        self,
        *,
        until_idle: float | None = None,
        stop: Callable[[], bool],
        poll_s: float = 0.5,
        after: Callable[[], object] | None = None,
    ) -> int:
        """Follow the log until stopped (or idle for ``until_idle`` seconds); ``after``
        runs after each catch-up (the audit sealer of ``project --seal``)."""
        applied = 0
        last_work = time.monotonic()
        while not stop():
            done = self.catch_up(stop=stop)
            if after is not None:
                after()
            applied += done
            now = time.monotonic()
            if done:
                last_work = now
                if logger.isEnabledFor(logging.INFO):  # two queries: only if they are shown
                    position = self.position()
                    logger.info(
                        "project: %d events applied, position %d, lag %d",
                        applied,
                        position,
                        max(0, self.head() - position),
                    )
            elif until_idle is not None and now - last_work >= until_idle:
                break
            else:
                time.sleep(poll_s)
        return applied

    def _apply(self, page: Sequence[Notification]) -> set[str]:
        """Rows of every aggregate the page touched — and of the units whose
        donation it touched, since a unit's rows fold its donation's facts — but
        those of a unit that come out as last written; returns the DINs whose rows
        were written."""
        changes = Changes()
        touched = self.kept.advance(page)
        donations = {a.din: a for a in touched if isinstance(a, Donation)}
        units = {a.id: a for a in touched if isinstance(a, BloodUnit)}
        wanted = {donation_id(u.din) for u in units.values() if u.din not in donations}
        wanted |= {unit_id(d.din, code) for d in donations.values() for code in d.product_codes}
        for aggregate in self.kept.as_of_position(wanted - units.keys()).values():
            if isinstance(aggregate, Donation):
                donations.setdefault(aggregate.din, aggregate)
            elif isinstance(aggregate, BloodUnit):
                units[aggregate.id] = aggregate
        written: set[str] = set()
        for unit in units.values():
            rows = unit_rows(unit_record(unit, donations.get(unit.din)))
            if self.written.get(rows.unit_id) != rows:
                changes.units.append(rows)
                written.add(unit.din)
        touched_donations = [a for a in touched if isinstance(a, Donation)]
        changes.donations = [donation_row(a) for a in touched_donations]
        changes.reactive_results = [
            row for a in touched_donations for row in reactive_result_rows(a)
        ]
        changes.cases = [case_row(a) for a in touched if isinstance(a, LookbackCase)]
        self.view.apply(changes, Tracking(self.upstream, page[-1].id))
        self._remember(changes.units)
        return written | {a.din for a in touched_donations}

    def _remember(self, written: Sequence[UnitRows]) -> None:
        """Keep the rows just written (once their transaction committed)."""
        for rows in written:
            self.written[rows.unit_id] = rows
            self.written.move_to_end(rows.unit_id)
        while len(self.written) > self.kept.size:
            self.written.popitem(last=False)
