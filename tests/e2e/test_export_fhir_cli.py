"""``bloodledger export fhir``: a donation's units as a FHIR R5 Bundle, from a protected store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.biologicallyderivedproductdispense import BiologicallyDerivedProductDispense
from fhir.resources.bundle import Bundle

from ledger.adapters.fhir import check_required_codes
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.facts import ReportedFact
from ledger.domain.identity import IdentityKey, generate_master_key
from simulator import DemoConfig, generate

pytestmark = pytest.mark.e2e

STREAM = DemoConfig(seed=21, days=6, hospitals=2, donations_per_day=8)
MODELS: dict[str, Any] = {
    "BiologicallyDerivedProduct": BiologicallyDerivedProduct,
    "BiologicallyDerivedProductDispense": BiologicallyDerivedProductDispense,
}


@dataclass
class Store:
    env: dict[str, str]
    facts: tuple[ReportedFact, ...]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ledger.entrypoints.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env,
            check=False,
        )

    def dispensed_din(self) -> str:
        return next(f.din for f in self.facts if f.event_type == "UnitDispensed")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fhir') / 'ledger.db'}"
    cipher = generate_master_key()
    ledger = open_ledger(store_for(url), identity_key=IdentityKey(cipher))
    facts = generate(STREAM).facts
    ledger.record(facts)
    ledger.close()
    yield Store({**os.environ, "BLOODLEDGER_STORE": url, "BLOODLEDGER_CIPHER_KEY": cipher}, facts)


def _valid(bundle: dict[str, Any]) -> None:
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    assert check_required_codes(bundle) == []


def test_export_writes_a_valid_bundle_with_patients_revealed(store: Store, tmp_path: Path) -> None:
    din = store.dispensed_din()
    out = tmp_path / "bundle.json"
    done = store.run("export", "fhir", "--din", din, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    bundle = json.loads(out.read_text(encoding="utf-8"))
    _valid(bundle)
    assert bundle["type"] == "collection"
    products = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "BiologicallyDerivedProduct"
    ]
    codes = {f.product_code for f in store.facts if f.din == din and f.product_code}
    assert {p["id"] for p in products} == {f"{din}-{code}" for code in codes}
    patients = {
        f.payload["patient_id"]
        for f in store.facts
        if f.din == din and f.event_type == "UnitDispensed"
    }
    shown = {
        e["resource"]["patient"]["identifier"]["value"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "BiologicallyDerivedProductDispense"
    }
    assert shown == patients
    assert "bl1:" not in out.read_text(encoding="utf-8")


def test_export_of_one_product_to_stdout_can_withhold_patients(store: Store) -> None:
    din = store.dispensed_din()
    code = next(f.product_code for f in store.facts if f.event_type == "UnitDispensed")
    done = store.run("export", "fhir", "--din", din, "--product", str(code), "--withhold-patients")
    assert done.returncode == 0, done.stderr
    bundle = json.loads(done.stdout)
    _valid(bundle)
    assert bundle["entry"][0]["resource"]["id"] == f"{din}-{code}"
    patients = {f.payload["patient_id"] for f in store.facts if "patient_id" in f.payload}
    assert not [p for p in patients if p in done.stdout]
    assert "bl1:" not in done.stdout


def test_an_unknown_din_exits_1_and_a_malformed_one_2(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "none.json"
    unknown = store.run("export", "fhir", "--din", "S310126999999", "--out", str(out))
    assert unknown.returncode == 1
    assert "no unit" in unknown.stderr
    assert not out.exists()
    malformed = store.run("export", "fhir", "--din", "NOT-A-DIN", "--out", str(out))
    assert malformed.returncode == 2
    assert "DIN" in malformed.stderr
    assert not out.exists()
