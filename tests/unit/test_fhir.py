"""Every unit of the demo stream as FHIR R5, validated by the ``fhir.resources`` R5 models.

The units are read whole and at two moments of the stream (its first 40 % and
50 % recorded), so products produced, quarantined, dispensed and in transfusion
are rendered too, not only the finished ones. Each resource is validated by its
R5 model, each bundle by ``Bundle``, and the codes by ``check_required_codes``
(the models do not check bindings).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fhir.resources import __fhir_version__
from fhir.resources.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.biologicallyderivedproductdispense import BiologicallyDerivedProductDispense
from fhir.resources.bundle import Bundle

from ledger.adapters.fhir import (
    DIN_SYSTEM,
    ISBT128_SYSTEM,
    PATIENT_SYSTEM,
    WITHHELD,
    check_required_codes,
    fhir_bundle,
    search_identifier,
)
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain import events as e
from ledger.domain.identity import IdentityKey, generate_master_key
from ledger.domain.unit import UnitRecord
from ledger.domain.unit_state import Status, in_occurred_order
from ledger.services.application import BloodLedger
from simulator import DemoConfig, generate

STREAM = generate(DemoConfig(seed=21, days=10, hospitals=2, donations_per_day=10))
MODELS: dict[str, Any] = {
    "BiologicallyDerivedProduct": BiologicallyDerivedProduct,
    "BiologicallyDerivedProductDispense": BiologicallyDerivedProductDispense,
}
#: ISBT 128 Blood Groups codes (Data Structure 002), written out again from
#: shared/domain.md §1.5: the default column and the autologous-only column.
DEFAULT_GROUP = {("O", "POS"): "51", ("A", "POS"): "62", ("B", "POS"): "73", ("AB", "POS"): "84"}
DEFAULT_GROUP |= {("O", "NEG"): "95", ("A", "NEG"): "06", ("B", "NEG"): "17", ("AB", "NEG"): "28"}
AUTOLOGOUS_GROUP = {("O", "POS"): "53", ("A", "POS"): "64", ("B", "POS"): "75", ("AB", "POS"): "86"}
AUTOLOGOUS_GROUP |= {
    ("O", "NEG"): "97",
    ("A", "NEG"): "08",
    ("B", "NEG"): "19",
    ("AB", "NEG"): "30",
}


@dataclass(frozen=True)
class Reading:
    """The units of a ledger that recorded the stream's first ``share`` of facts."""

    share: float
    units: tuple[UnitRecord, ...]


def _record(share: float, key: IdentityKey | None = None) -> BloodLedger:
    ledger = open_ledger(store_for("memory://"), identity_key=key)
    facts = STREAM.facts[: round(len(STREAM.facts) * share)]
    for start in range(0, len(facts), 500):
        ledger.record(facts[start : start + 500])
    return ledger


def _units(ledger: BloodLedger) -> tuple[UnitRecord, ...]:
    dins = dict.fromkeys(f.din for f in STREAM.facts)
    return tuple(unit for din in dins for unit in ledger.units_of(din))


@pytest.fixture(scope="module", params=[1.0, 0.4, 0.5], ids=["whole", "at-40%", "at-50%"])
def reading(request: pytest.FixtureRequest) -> Iterator[Reading]:
    ledger = _record(request.param)
    yield Reading(request.param, _units(ledger))
    ledger.close()


@pytest.fixture(scope="module")
def everything() -> list[UnitRecord]:
    """Every unit of every reading (the statuses of all three)."""
    units: list[UnitRecord] = []
    for share in (1.0, 0.4, 0.5):
        ledger = _record(share)
        units.extend(_units(ledger))
        ledger.close()
    return units


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def _validated(bundle: dict[str, Any]) -> None:
    Bundle.model_validate(bundle)
    for resource in _resources(bundle):
        MODELS[resource["resourceType"]].model_validate(resource)
    assert check_required_codes(bundle) == []


def _product(bundle: dict[str, Any]) -> dict[str, Any]:
    (product,) = [
        r for r in _resources(bundle) if r["resourceType"] == "BiologicallyDerivedProduct"
    ]
    return product


def _dispenses(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r for r in _resources(bundle) if r["resourceType"] == "BiologicallyDerivedProductDispense"
    ]


def test_the_models_are_r5() -> None:
    assert __fhir_version__ == "5.0.0"


def test_every_unit_and_every_donation_is_valid_fhir_r5(reading: Reading) -> None:
    seen: set[str] = set()
    for unit in reading.units:
        bundle = fhir_bundle([unit], bundle_type="collection")
        _validated(bundle)
        seen.add(_product(bundle)["id"])
        assert len(_dispenses(bundle)) == len(e.facts_of(unit.facts, e.UnitDispensed))
    assert seen == {f"{u.din}-{u.product_code}" for u in reading.units}
    assert len(seen) > 100
    by_din: dict[str, list[UnitRecord]] = {}
    for unit in reading.units:
        by_din.setdefault(unit.din, []).append(unit)
    for units in by_din.values():
        _validated(fhir_bundle(units, bundle_type="searchset"))
        _validated(fhir_bundle(units, bundle_type="collection", show_patients=False))


def test_identifiers_product_codes_and_groups_are_isbt_128(reading: Reading) -> None:
    for unit in reading.units:
        product = _product(fhir_bundle([unit], bundle_type="collection"))
        state = unit.state()
        assert product["id"] == f"{unit.din}-{unit.product_code}"
        assert product["identifier"][0] == {"system": DIN_SYSTEM, "value": unit.din}
        assert product["biologicalSourceEvent"] == {"system": DIN_SYSTEM, "value": unit.din}
        assert product["productCode"]["coding"] == [
            {"system": ISBT128_SYSTEM, "code": unit.product_code[:5]}
        ]
        assert product["division"] == unit.product_code[6:] == "00"
        properties = {p["type"]["coding"][0]["code"]: p for p in product.get("property", [])}
        collection_type = properties["collectiontype"]["valueCodeableConcept"]["coding"][0]
        assert collection_type["code"] == unit.product_code[5]
        if state.abo is None:
            assert "aborhd" not in properties
            continue
        groups = AUTOLOGOUS_GROUP if unit.product_code[5] == "1" else DEFAULT_GROUP
        group = properties["aborhd"]["valueCodeableConcept"]["coding"][0]
        assert group["system"] == "https://www.isbt128.org/uri/ABORhD"
        assert group["code"] == groups[state.abo, state.rhd]
        if state.expires_at is not None:
            assert product["expirationDate"].startswith(state.expires_at.date().isoformat())


def test_only_a_unit_in_stock_is_available(everything: list[UnitRecord]) -> None:
    statuses: dict[Status, set[str]] = {}
    for unit in everything:
        product = _product(fhir_bundle([unit], bundle_type="collection"))
        coding = product["productStatus"]
        assert coding["system"] == "http://hl7.org/fhir/biologicallyderived-product-status"
        statuses.setdefault(unit.state().status, set()).add(coding["code"])
    assert statuses[Status.AVAILABLE] == {"available"}
    for status in (Status.TRANSFUSED, Status.DISCARDED, Status.QUARANTINED, Status.DISPENSED):
        assert statuses[status] == {"unavailable"}, status
    assert {code for s, codes in statuses.items() if s != Status.AVAILABLE for code in codes} == {
        "unavailable"
    }


def test_each_dispense_names_its_patient_product_status_and_match(
    everything: list[UnitRecord],
) -> None:
    statuses: set[str] = set()
    matches: set[str] = set()
    for unit in everything:
        bundle = fhir_bundle([unit], bundle_type="collection")
        product_url = bundle["entry"][0]["fullUrl"]
        facts = in_occurred_order(unit.facts)
        dispensed = [f for f in facts if isinstance(f, e.UnitDispensed)]
        for fact, dispense in zip(dispensed, _dispenses(bundle), strict=True):
            assert dispense["product"]["reference"] == product_url
            assert dispense["patient"]["identifier"] == {
                "system": PATIENT_SYSTEM,
                "value": fact.patient_id,
            }
            assert dispense["identifier"][0]["value"] == fact.event_id
            assert dispense["whenHandedOver"].startswith(fact.occurred_at.date().isoformat())
            after = facts[facts.index(fact) + 1 :]
            nxt = [f for f in after if isinstance(f, e.UnitDispensed)]
            window = after[: after.index(nxt[0])] if nxt else after
            returned = any(isinstance(f, e.UnitReturned) for f in window)
            assert dispense["status"] == ("returned" if returned else "issued")
            statuses.add(dispense["status"])
            crossmatched = any(
                isinstance(f, e.CrossmatchPerformed)
                and f.patient_id == fact.patient_id
                and f.result == "COMPATIBLE"
                and f.occurred_at <= fact.occurred_at
                for f in facts
            )
            match = dispense.get("matchStatus", {}).get("coding", [{}])[0].get("code")
            if crossmatched:
                assert match == "crossmatched"
            matches.add(match)
    assert statuses == {"issued", "returned"}
    assert {"crossmatched", "unmatched"} <= matches


def test_no_donor_identifier_appears_anywhere(everything: list[UnitRecord]) -> None:
    donors = {f.payload["donor_id"] for f in STREAM.facts if f.event_type == "DonationCollected"}
    text = json.dumps([fhir_bundle([u], bundle_type="collection") for u in everything])
    assert donors and not [d for d in donors if d in text]
    assert "donor" not in text.lower()


def test_withheld_patients_leave_no_patient_identifier(everything: list[UnitRecord]) -> None:
    patients = {f.payload["patient_id"] for f in STREAM.facts if "patient_id" in f.payload}
    bundles = [fhir_bundle([u], bundle_type="collection", show_patients=False) for u in everything]
    text = json.dumps(bundles)
    assert patients and not [p for p in patients if p in text]
    references = [d["patient"] for b in bundles for d in _dispenses(b)]
    assert references
    for reference in references:
        assert reference["display"] == WITHHELD
        assert "identifier" not in reference and "reference" not in reference
        assert reference["extension"][0]["valueCode"] == "masked"


def test_the_same_facts_give_the_same_bundle_sealed_or_not() -> None:
    key = IdentityKey(generate_master_key())
    clear, sealed = _record(0.5), _record(0.5, key)
    try:
        mine = [fhir_bundle([u], bundle_type="collection") for u in _units(clear)]
        theirs = [fhir_bundle([u], bundle_type="collection") for u in _units(sealed)]
        assert any("bl1:" in json.dumps(b) for b in theirs)
        assert sealed.identities.revealed(theirs) == mine
        assert mine == [fhir_bundle([u], bundle_type="collection") for u in _units(clear)]
    finally:
        clear.close()
        sealed.close()


def test_a_searchset_on_an_http_base_has_restful_urls(reading: Reading) -> None:
    base = "https://ledger.example/api/v1/fhir"
    dispensed = next(u for u in reading.units if e.facts_of(u.facts, e.UnitDispensed))
    units = [u for u in reading.units if u.din == dispensed.din]
    bundle = fhir_bundle(units, bundle_type="searchset", base_url=base)
    _validated(bundle)
    assert bundle["total"] == len(units)
    modes = [entry["search"]["mode"] for entry in bundle["entry"]]
    assert modes.count("match") == len(units) and "include" in modes
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{base}/{resource['resourceType']}/{resource['id']}"
    for dispense in _dispenses(bundle):
        kind, _, ident = dispense["product"]["reference"].partition("/")
        assert kind == "BiologicallyDerivedProduct"
        assert ident in {r["id"] for r in _resources(bundle)}


def test_a_search_that_finds_nothing_is_an_empty_searchset() -> None:
    bundle = fhir_bundle([], bundle_type="searchset")
    assert bundle == {"resourceType": "Bundle", "type": "searchset", "total": 0}
    Bundle.model_validate(bundle)
    assert check_required_codes(bundle) == []


def test_check_required_codes_names_what_is_wrong(reading: Reading) -> None:
    unit = next(u for u in reading.units if e.facts_of(u.facts, e.UnitDispensed))
    bundle = fhir_bundle([unit], bundle_type="searchset")
    wrong = copy.deepcopy(bundle)
    wrong["type"] = "bag"
    wrong["entry"][0]["search"]["mode"] = "found"
    wrong["entry"][0]["resource"]["productStatus"]["code"] = "in-stock"
    wrong["entry"][0]["resource"]["productCode"]["coding"][0]["code"] = "E07"
    wrong["entry"][1]["resource"]["status"] = "completed"
    wrong["entry"][1]["resource"]["identifier"][0]["use"] = "primary"
    problems = check_required_codes(wrong)
    assert len(problems) == 6, problems
    for needle in ("'bag'", "'found'", "'in-stock'", "'E07'", "'completed'", "'primary'"):
        assert any(needle in problem for problem in problems), needle
    del wrong["entry"][1]["resource"]["status"]
    assert any("status is missing" in p for p in check_required_codes(wrong))
    BiologicallyDerivedProductDispense.model_validate(bundle["entry"][1]["resource"])


def test_the_identifier_search_token_names_a_din_or_a_unit() -> None:
    din = "S310126010158"
    assert search_identifier(din) == (din, None)
    assert search_identifier(f"|{din}") == (din, None)
    assert search_identifier(f"{DIN_SYSTEM}|{din}") == (din, None)
    assert search_identifier(f"urn:bloodledger:unit|{din}-E0791V00") == (din, "E0791V00")
    assert search_identifier(f"http://example.org/ids|{din}") is None
