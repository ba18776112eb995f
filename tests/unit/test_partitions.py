def test_ingest_lag_counts_what_each_partition_holds_past_the_ledgers_position() -> None:
    from ledger.services.partitions import ingest_lag, upstream_name

    recorded = {upstream_name("t", 0): 9, upstream_name("t", 1): 2}  # offsets stored last
    lag = ingest_lag("t", {0: 10, 1: 7, 2: 4}, recorded.get)
    assert lag == 0 + 4 + 4  # partition 2: nothing stored yet, all four records wait
    assert ingest_lag("t", {0: 5}, recorded.get) == 0  # an end reported short is no lag
