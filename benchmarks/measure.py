"""Small statistics for benchmark reports: median with min/max, latency percentiles."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Spread:
    """A median of several runs, with the smallest and largest."""

    median: float
    min: float
    max: float
    runs: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def text(self, unit: str = "") -> str:
        return f"{self.median:,.0f}{unit} ({self.min:,.0f}..{self.max:,.0f}, n={self.runs})"


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def latencies_ms(action: Callable[[], object], repeats: int) -> dict[str, float]:
    """p50/p99/max of an action's wall time, in milliseconds (after one warm-up call)."""
    action()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(percentile(samples, 0.5), 2),
        "p99_ms": round(percentile(samples, 0.99), 2),
        "max_ms": round(max(samples), 2),
        "samples": repeats,
    }
