"""Property: however facts arrive and however the projector is interrupted,
the incrementally maintained tables equal a rebuild from scratch."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.facts import ReportedFact
from tests.integration.test_projections import dump, story

FACTS = story()


def open_models(path: Path) -> ReadModels:
    return open_read_models_of(store_for(f"sqlite:///{path}"), page_size=5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arrival=st.permutations(FACTS),
    cuts=st.lists(st.integers(min_value=1, max_value=len(FACTS) - 1), max_size=6, unique=True),
    resent=st.lists(st.sampled_from(FACTS), max_size=4),
    stop_after_pages=st.integers(min_value=0, max_value=20),
    keep=st.sampled_from([1, 3, 5000]),
)
def test_incremental_equals_rebuild_and_resume_changes_nothing(
    arrival: list[ReportedFact],
    cuts: list[int],
    resent: list[ReportedFact],
    stop_after_pages: int,
    keep: int,
) -> None:
    """``keep``: how many aggregates the projector keeps in memory (1: nearly every
    page reads its aggregates back from the store)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.db"
        with open_models(path) as models:
            models.projector.kept.size = keep
            stream = [*arrival, *resent]
            start = 0
            for cut in [*sorted(cuts), len(stream)]:
                models.ledger.record(stream[start:cut])
                models.projector.catch_up()  # the projector follows the ledger batch by batch
                start = cut
            incremental = dump(models)

            models.projector.rebuild()
            assert dump(models) == incremental

            pages = iter(range(stop_after_pages))
            models.view.reset(models.projector.upstream)
            models.projector.catch_up(stop=lambda: next(pages, None) is None)
        with open_models(path) as restarted:  # as if the process had been killed
            restarted.projector.catch_up()
            assert dump(restarted) == incremental
            assert restarted.projector.lag() == 0


def test_a_rebuild_reads_nothing_back_when_it_can_keep_the_aggregates(tmp_path: Path) -> None:
    with open_models(tmp_path / "ledger.db") as models:
        models.ledger.record(FACTS)
        models.projector.catch_up()
        expected = dump(models)
        models.projector.kept.reads = 0
        models.projector.page_size = 2000  # (pages of 5 split batches: a unit listed, not yet seen)
        models.projector.rebuild()
        assert models.projector.kept.reads == 0
        models.projector.kept.size = 1
        models.projector.page_size = 5
        models.projector.rebuild()
        assert models.projector.kept.reads > 0
        assert dump(models) == expected
