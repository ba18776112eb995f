"""The ledger with its read models, opened together for the commands that need both."""

from __future__ import annotations

from types import TracebackType

from ledger.application import BloodLedger
from ledger.domain.lookback import DEFAULT_WINDOW_DAYS
from ledger.lookback import Clock, Lookbacks, utc_now
from ledger.store import StoreURL
from projections.projector import Projector
from projections.store import LedgerView, open_view


class ReadModels:
    """Ledger, view, projector and lookbacks on one store; a context manager.

    The projector runs the ledger's lookback policy whenever it reaches the
    end of the log: a reactive donation whose donor is known opens a case by itself.
    """

    def __init__(
        self,
        store: StoreURL,
        *,
        lookback_window_days: int = DEFAULT_WINDOW_DAYS,
        clock: Clock | None = None,
        page_size: int = 5000,
    ) -> None:
        self.ledger = BloodLedger.open(store)
        self.view: LedgerView = open_view(store)
        self.projector = Projector(self.ledger, self.view, page_size=page_size)
        self.lookbacks = Lookbacks(
            self.ledger, self.projector, window_days=lookback_window_days, clock=clock or utc_now
        )
        self.projector.at_head = self.lookbacks.open_missing_cases

    def close(self) -> None:
        self.view.datastore.close()  # type: ignore[attr-defined]
        self.ledger.close()

    def __enter__(self) -> ReadModels:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
