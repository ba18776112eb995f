"""Benchmarks: reported numbers with baselines measured in the same run (not timed tests)."""
