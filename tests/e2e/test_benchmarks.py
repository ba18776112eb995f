"""The benchmark suite still runs (tiny sizes); its numbers live in docs/performance.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_benchmark_suite_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    for store in ("postgresql", "sqlite"):
        assert results[f"ingest_{store}"]["ingest"]["median"] > 0
        assert 0 < results[f"ingest_{store}"]["ratio"] < 1.5
        assert results[f"projection_{store}"]["rebuild"]["median"] > 0
    assert results["queries_postgresql"]["3000"]["history"]["p99_ms"] > 0
    assert results["memory"]["ingest"]["peak_rss_mb"] > 0
    assert out.with_suffix(".md").read_text().startswith("Machine:")


def test_the_profiles_name_the_hot_path(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.profile", "--records", "3000"]
    done = subprocess.run(
        [*command, "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "BloodLedger.record" in (tmp_path / "profile-ingest.txt").read_text()
    assert "Projector.rebuild" in (tmp_path / "profile-rebuild.txt").read_text()


def test_the_api_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "api.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.api", "--events", "3000", "--seconds", "2",
         "--warmup", "0.5", "--clients", "4", "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["store"]["events"] >= 3000
    assert results["targets"]["units"] > 0
    [run] = results["runs"]
    baseline, measured = run["baseline"], run["measured"]
    assert baseline["routes"]["healthz"]["p99_ms"] > 0
    assert baseline["errors"] == measured["errors"] == 0
    for route in ("check", "history"):
        figures = measured["routes"][route]
        assert figures["requests"] > 0 and figures["per_s"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert set(measured["decisions"]) == {"ALLOW"}
    assert measured["server_side"]["check"]["requests"] > 0
    assert results["server_memory"]["peak_mb"] > 0
    assert "check_p99_within_25_ms" in results["targets_met"]["think_0_ms"]


def test_the_compression_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "compression.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.compression", "--records", "1500", "--runs", "1",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results) == {"none", "gzip", "snappy", "lz4", "zstd"}
    assert all(figures["median"] > 0 for figures in results.values())


def test_the_pages_benchmark_runs(tmp_path: Path) -> None:
    out, profile = tmp_path / "pages.json", tmp_path / "profile-pages.txt"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pages", "--events", "3000", "--hospitals", "2",
         "--donations-per-day", "60", "--requests", "3", "--warmup-rounds", "1",
         "--clients", "2", "--seconds", "2", "--profile", "1", "--profile-out", str(profile),
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["store"]["events"] >= 3000
    sequential = results["sequential"]["pages"]
    assert {"unit", "trace_donor", "inventory_past_all", "alerts", "lookback", "reports",
            "clinician_inventory", "healthz"} <= set(sequential)  # fmt: skip
    for name, page in sequential.items():
        assert page["requests"] == 3 and page["errors"] == 0, name
        assert 0 < page["p50_ms"] <= page["p99_ms"] <= page["max_ms"], name
        assert page["kb_mean"] > 0 or name == "healthz", name
    assert results["sequential"]["server_side"]["/inventory"]["requests"] > 0
    assert results["concurrent"]["requests"] > 0
    assert "within_100_ms" in results["targets_met"]["alerts"]
    profiled = profile.read_text()
    assert "inventory_past_all" in profiled and "Pages.render" in profiled
