"""A ledger's units as FHIR R5 resources: ``BiologicallyDerivedProduct`` and its dispenses.

Renders what the ledger knows of a unit — the folded state of
:mod:`ledger.domain.unit_state` and the unit's own facts — as FHIR R5 JSON
(``shared/domain.md`` §7; code systems as in ``shared/notes/audit-fhir-bedside.md``,
"FHIR R5"): one ``BiologicallyDerivedProduct`` per unit (DIN + product code) and
one ``BiologicallyDerivedProductDispense`` per ``UnitDispensed`` fact of it,
in a ``Bundle``. Pure: the same facts give the same JSON, byte for byte.

- **Identity.** The ISBT 128 DIN is an ``identifier`` (ICCBBA's
  ``DonationIdentificationNumber`` system, so ``?identifier=DIN`` finds every
  product of a donation) and the ``biologicalSourceEvent``; the unit's key
  (DIN + product code) is a second identifier and, as ``DIN-productcode``,
  the resource id. A dispense's id is its unit's and its fact's event id.
- **No donor, ever.** Nothing about the donor is written — no identifier, no
  ``collection.source`` (for an autologous unit that would name the patient
  as donor). Patients appear only as a dispense's ``patient``, by the
  ``patient_id`` as the caller passes it (sealed or revealed); with
  ``show_patients=False`` the reference holds no identifier, only the
  ``data-absent-reason`` ``masked`` and the display ``withheld``.
- **Codes.** The mapping tables below say where each comes from. The
  ``fhir.resources`` models check structure and datatypes, not value-set
  bindings: :func:`check_required_codes` checks the codes.

Used by ``bloodledger export fhir`` and the HTTP API's
``GET /api/v1/fhir/BiologicallyDerivedProduct?identifier=DIN``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from ledger.domain import events as e
from ledger.domain.instants import iso
from ledger.domain.unit import NAMESPACE, UnitRecord
from ledger.domain.unit_state import Status, UnitState, in_occurred_order
from ledger.domain.vocabulary import Component, CrossmatchResult, DonationType

# -- systems -------------------------------------------------------------------------

#: ICCBBA's identifier system for the ISBT 128 DIN (the R5 examples and the notes).
DIN_SYSTEM = "https://www.isbt128.org/uri/DonationIdentificationNumber"
#: ISBT 128 product description codes in HL7 terminology (THO ``ib``,
#: OID 2.16.840.1.113883.6.18; ``shared/domain.md`` §7.1).
ISBT128_SYSTEM = "http://terminology.hl7.org/CodeSystem/ib"
#: ICCBBA's code systems of the ABO/RhD (Data Structure 002) and collection-type values.
ABORHD_SYSTEM = "https://www.isbt128.org/uri/ABORhD"
COLLECTION_TYPE_SYSTEM = "https://www.isbt128.org/uri/CollectionType"
#: FHIR R5 code systems (all bound ``example`` but closed; :func:`check_required_codes`).
PRODUCT_CATEGORY_SYSTEM = "http://hl7.org/fhir/product-category"
PRODUCT_STATUS_SYSTEM = "http://hl7.org/fhir/biologicallyderived-product-status"
PROPERTY_TYPE_SYSTEM = "http://hl7.org/fhir/biologicallyderived-product-property-type-codes"
MATCH_STATUS_SYSTEM = (
    "http://hl7.org/fhir/CodeSystem/biologicallyderivedproductdispense-match-status"
)
ORIGIN_RELATIONSHIP_SYSTEM = (
    "http://hl7.org/fhir/CodeSystem/biologicallyderivedproductdispense-origin-relationship"
)
DATA_ABSENT_REASON_URL = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
UCUM = "http://unitsofmeasure.org"
#: The ledger's own identifier systems (URNs: namespaces, not addresses).
UNIT_SYSTEM = "urn:bloodledger:unit"
EVENT_SYSTEM = "urn:bloodledger:event"
PATIENT_SYSTEM = "urn:bloodledger:patient"
FACILITY_SYSTEM = "urn:bloodledger:facility"
#: What a withheld patient reference shows.
WITHHELD = "withheld"

# -- mapping tables ------------------------------------------------------------------

PRODUCT_CATEGORY: Mapping[str, str] = {
    Component.RED_CELLS: "cells",
    Component.PLATELETS: "cells",
    Component.WHOLE_BLOOD: "fluid",
    Component.PLASMA: "fluid",
    Component.CRYO: "fluid",
}
"""Component -> ``productCategory`` (R5 ``product-category``: organ | tissue | fluid |
cells | biologicalAgent; example binding). Cellular components are ``cells``; whole
blood, plasma and cryoprecipitate (a plasma fraction) ``fluid`` — our choice, the
value set gives no guidance for blood components."""

COMPONENT_TEXT: Mapping[str, str] = {
    Component.RED_CELLS: "Red blood cells",
    Component.PLATELETS: "Platelets",
    Component.WHOLE_BLOOD: "Whole blood",
    Component.PLASMA: "Plasma",
    Component.CRYO: "Cryoprecipitate",
}
"""Component -> ``productCode.text`` (the ISBT 128 class names, ST-002 via ``shared/domain.md``
§1.4; the licensed PDC database's own displays are not ours to print)."""

PRODUCT_STATUS: Mapping[Status, str] = {
    **dict.fromkeys(Status, "unavailable"),
    Status.AVAILABLE: "available",
}
"""Unit status -> ``productStatus`` (R5 ``biologicallyderived-product-status``: available |
unavailable). Only a released unit in stock, not quarantined, held or on its way, is
``available``; every other status (produced but not released, quarantined, in transit,
dispensed, in transfusion, transfused, discarded) is ``unavailable``."""

STORAGE_CELSIUS: Mapping[str, tuple[float | None, float | None]] = {
    Component.RED_CELLS: (1, 6),
    Component.WHOLE_BLOOD: (1, 6),
    Component.PLATELETS: (20, 24),
    Component.PLASMA: (None, -18),
    Component.CRYO: (None, -18),
}
"""Component -> ``storageTempRequirements`` (low, high) in °C, from ``shared/domain.md`` §2
(21 CFR 610.53 / WS 399-2012: red cells and whole blood 1 to 6 °C, platelets 20 to 24 °C,
frozen plasma and cryoprecipitate at or below -18 °C)."""

_RHD_TEXT = {"POS": "RhD positive", "NEG": "RhD negative"}
#: ABO -> (RhD negative, RhD positive) codes of each intended use; then RhD unspecified.
_BLOOD_GROUPS: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "default": {"O": ("95", "51"), "A": ("06", "62"), "B": ("17", "73"), "AB": ("28", "84")},
    "directed": {"O": ("91", "47"), "A": ("02", "58"), "B": ("13", "69"), "AB": ("24", "80")},
    "emergency": {"O": ("92", "48"), "A": ("03", "59"), "B": ("14", "70"), "AB": ("25", "81")},
    "autologous": {"O": ("97", "53"), "A": ("08", "64"), "B": ("19", "75"), "AB": ("30", "86")},
}
_RHD_UNSPECIFIED: Mapping[str, str] = {"O": "55", "A": "66", "B": "77", "AB": "88"}

ABORHD_CODES: Mapping[tuple[str, str | None, str], str] = {
    **{
        (abo, rhd, use): code
        for use, groups in _BLOOD_GROUPS.items()
        for abo, codes in groups.items()
        for rhd, code in zip(("NEG", "POS"), codes, strict=True)
    },
    **{(abo, None, "default"): code for abo, code in _RHD_UNSPECIFIED.items()},
}
"""(ABO, RhD, intended use) -> ISBT 128 Blood Groups code ``gg`` (Data Structure 002,
``shared/domain.md`` §1.5): the default column, the directed-only, emergency-only and
autologous-only columns, and ABO with RhD unspecified (default use only). The property
``aborhd`` carries it in ``https://www.isbt128.org/uri/ABORhD``, as the R5 example does
(``62``, "A RhD Positive")."""

INTENDED_USE: Mapping[str, str] = {"1": "autologous", "2": "directed", "G": "emergency"}
"""Collection type -> the column of :data:`ABORHD_CODES` (others: ``default``): a unit
for autologous use only, for its directed recipient only, or for emergency use only."""

_USE_TEXT = {
    "autologous": ", for autologous use only",
    "directed": ", for directed recipient only",
    "emergency": ", for emergency use only",
}

COLLECTION_TYPES: Mapping[str, str] = {
    "V": "Volunteer allogeneic",
    "0": "Not specified",
    "P": "Paid allogeneic",
    "R": "Research",
    "r": "Research",
    "S": "Source",
    "s": "Source",
    "T": "Therapeutic",
    "A": "Autologous, eligible for crossover",
    "1": "For autologous use only",
    "X": "Autologous, biohazard",
    "D": "Directed, eligible for crossover",
    "d": "Directed, eligible for crossover",
    "2": "For directed recipient use only",
    "L": "Directed, limited exposure",
    "3": "Directed, biohazard",
    "E": "Medical exception",
    "4": "Designated",
    "5": "Dedicated",
    "F": "Family reserved",
    "C": "Replacement",
    "G": "For emergency use only",
    "Q": "See special testing",
}
"""Product code character 6 -> the ISBT 128 collection type (``shared/domain.md`` §1.4),
the property ``collectiontype`` in ``https://www.isbt128.org/uri/CollectionType``."""

ORIGIN_RELATIONSHIP: Mapping[str, str] = {
    DonationType.VOLUNTARY: "allogeneic",
    DonationType.AUTOLOGOUS: "autologous",
    DonationType.DIRECTED: "directed",
}
"""Donation type -> a dispense's ``originRelationshipType`` (R5
``biologicallyderivedproductdispense-origin-relationship``; ``shared/domain.md`` §8)."""

DISPENSE_ISSUED = "issued"
DISPENSE_RETURNED = "returned"
"""A dispense's ``status`` (R5 ``biologicallyderivedproductdispense-status``, required):
``issued`` — "the dispensed product has been picked up" — for every ``UnitDispensed``,
whatever came after (transfused, discarded: the dispense itself was done); ``returned``
when a ``UnitReturned`` followed it before the unit's next dispense. The ledger has no
fact for ``preparation``, ``in-progress``, ``allocated`` or ``unfulfilled``."""

MATCH_CROSSMATCHED = "crossmatched"
MATCH_UNMATCHED = "unmatched"
"""A dispense's ``matchStatus`` (R5 ``biologicallyderivedproductdispense-match-status``):
``crossmatched`` when a COMPATIBLE crossmatch with the same patient preceded the dispense
(serological or electronic); ``unmatched`` ("no specific matching has been carried out")
when none with that patient did; left out when only INCOMPATIBLE ones did (nothing
the ledger knows says ``least-incompatible``)."""

# -- the codes check_required_codes knows -------------------------------------------

BUNDLE_TYPES = frozenset(
    {
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection",
        "subscription-notification",
    }
)
SEARCH_ENTRY_MODES = frozenset({"match", "include", "outcome"})
DISPENSE_STATUSES = frozenset(
    {
        "preparation",
        "in-progress",
        "allocated",
        "issued",
        "unfulfilled",
        "returned",
        "entered-in-error",
        "unknown",
    }
)
IDENTIFIER_USES = frozenset({"usual", "official", "temp", "secondary", "old"})
QUANTITY_COMPARATORS = frozenset({"<", "<=", ">=", ">", "ad"})
NARRATIVE_STATUSES = frozenset({"generated", "extensions", "additional", "empty"})
DATA_ABSENT_REASONS = frozenset(
    {
        "unknown",
        "asked-unknown",
        "temp-unknown",
        "not-asked",
        "asked-declined",
        "masked",
        "not-applicable",
        "unsupported",
        "as-text",
        "error",
        "not-a-number",
        "negative-infinity",
        "positive-infinity",
        "not-performed",
        "not-permitted",
    }
)
CODE_SYSTEMS: Mapping[str, frozenset[str]] = {
    PRODUCT_CATEGORY_SYSTEM: frozenset({"organ", "tissue", "fluid", "cells", "biologicalAgent"}),
    PRODUCT_STATUS_SYSTEM: frozenset({"available", "unavailable"}),
    PROPERTY_TYPE_SYSTEM: frozenset(
        {"aborhd", "collectiontype", "redcellantigen", "singleeuropeancode"}
    ),
    MATCH_STATUS_SYSTEM: frozenset({"crossmatched", "selected", "unmatched", "least-incompatible"}),
    ORIGIN_RELATIONSHIP_SYSTEM: frozenset(
        {"autologous", "allogeneic", "directed", "related", "xenogenic"}
    ),
    ABORHD_SYSTEM: frozenset(ABORHD_CODES.values()),
    COLLECTION_TYPE_SYSTEM: frozenset(COLLECTION_TYPES),
}
"""The closed code systems the resources use, with their codes (R5 5.0.0 code systems;
the ICCBBA ones as far as :data:`ABORHD_CODES` and :data:`COLLECTION_TYPES` go)."""

#: An ISBT 128 product code: PDC (5) then, for blood components and the like,
#: collection type (1) and division (2); M, N, R, T, V, W codes end in a pack code.
_PRODUCT_CODE = re.compile(
    r"(?P<pdc>[A-Z][0-9A-Z]{4})(?P<type>[0-9A-Za-z])(?P<ds>[0-9A-Z][0-9a-z])"
)
_PACK_CODE_CLASSES = frozenset("MNRTVW")
_PDC = re.compile(r"[A-Z][0-9A-Z]{4}")
_RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

# -- resources -----------------------------------------------------------------------


def fhir_bundle(
    units: Sequence[UnitRecord],
    *,
    bundle_type: Literal["searchset", "collection"],
    base_url: str = "urn:bloodledger",
    show_patients: bool = True,
) -> dict[str, Any]:
    """A FHIR R5 ``Bundle`` of the units: each one's ``BiologicallyDerivedProduct``, then
    a ``BiologicallyDerivedProductDispense`` per dispense of it.

    ``base_url`` is where the resources live: an ``http(s)`` base (the FHIR API's)
    gives RESTful ``fullUrl``\\ s and relative references; anything else (the default)
    gives ``urn:uuid:`` ``fullUrl``\\ s, derived from it and the resource, which the
    references use. A ``searchset`` counts the products as its matches (``total``) and
    marks the dispenses ``include`` (no units: ``total`` 0 and no ``entry``).
    ``show_patients=False`` writes no patient identifier at all.
    """
    entries: list[dict[str, Any]] = []
    for resource in fhir_resources_of(units, base_url=base_url, show_patients=show_patients):
        entry: dict[str, Any] = {
            "fullUrl": _full_url(base_url, resource["resourceType"], resource["id"]),
            "resource": resource,
        }
        if bundle_type == "searchset":
            match = resource["resourceType"] == "BiologicallyDerivedProduct"
            entry["search"] = {"mode": "match" if match else "include"}
        entries.append(entry)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": bundle_type}
    if bundle_type == "searchset":
        bundle["total"] = len(units)
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle


def fhir_resources_of(
    units: Sequence[UnitRecord], *, base_url: str = "urn:bloodledger", show_patients: bool = True
) -> list[dict[str, Any]]:
    """The resources of :func:`fhir_bundle`, in its order."""
    resources: list[dict[str, Any]] = []
    for unit in units:
        resources.append(biologically_derived_product(unit))
        resources.extend(dispenses_of(unit, base_url=base_url, show_patients=show_patients))
    return resources


def product_id(unit: UnitRecord) -> str:
    """The ``BiologicallyDerivedProduct``'s id: ``DIN-productcode``."""
    return _resource_id(unit.din, unit.product_code)


def biologically_derived_product(unit: UnitRecord) -> dict[str, Any]:
    """The unit's ``BiologicallyDerivedProduct`` (its state now)."""
    state = unit.state()
    facts = in_occurred_order(unit.facts)
    parts = _PRODUCT_CODE.fullmatch(unit.product_code)
    if parts is not None and parts["pdc"][0] in _PACK_CODE_CLASSES:
        parts = None
    resource: dict[str, Any] = {
        "resourceType": "BiologicallyDerivedProduct",
        "id": product_id(unit),
        "identifier": [
            {"system": DIN_SYSTEM, "value": unit.din},
            {"system": UNIT_SYSTEM, "value": f"{unit.din}-{unit.product_code}"},
        ],
    }
    component = state.component or ""
    if component in PRODUCT_CATEGORY:
        resource["productCategory"] = {
            "system": PRODUCT_CATEGORY_SYSTEM,
            "code": PRODUCT_CATEGORY[component],
        }
    resource["productCode"] = _product_code(unit.product_code, state.component)
    produced = e.first_of(facts, e.ComponentProduced)
    if produced is not None:
        resource["processingFacility"] = [_facility("Organization", produced.facility)]
    resource["biologicalSourceEvent"] = {"system": DIN_SYSTEM, "value": unit.din}
    if parts is not None:
        resource["division"] = parts["ds"]
    resource["productStatus"] = {
        "system": PRODUCT_STATUS_SYSTEM,
        "code": PRODUCT_STATUS[state.status],
    }
    if state.expires_at is not None:
        resource["expirationDate"] = iso(state.expires_at)
    collected = e.first_of(facts, e.DonationCollected)
    if collected is not None:
        resource["collection"] = {"collectedDateTime": iso(collected.occurred_at)}
    if component in STORAGE_CELSIUS:
        resource["storageTempRequirements"] = _celsius_range(*STORAGE_CELSIUS[component])
    properties = list(_properties(state, parts["type"] if parts else None))
    if properties:
        resource["property"] = properties
    return resource


def dispenses_of(
    unit: UnitRecord, *, base_url: str = "urn:bloodledger", show_patients: bool = True
) -> list[dict[str, Any]]:
    """A ``BiologicallyDerivedProductDispense`` for each ``UnitDispensed`` of the unit."""
    state = unit.state()
    facts = in_occurred_order(unit.facts)
    produced = e.first_of(facts, e.ComponentProduced)
    product = {
        "reference": _reference(base_url, "BiologicallyDerivedProduct", product_id(unit)),
        "type": "BiologicallyDerivedProduct",
    }
    resources: list[dict[str, Any]] = []
    for index, fact in enumerate(facts):
        if not isinstance(fact, e.UnitDispensed):
            continue
        after = facts[index + 1 :]
        until_next = next(
            (i for i, f in enumerate(after) if isinstance(f, e.UnitDispensed)), len(after)
        )
        returned = any(isinstance(f, e.UnitReturned) for f in after[:until_next])
        crossmatches = [
            f
            for f in facts
            if isinstance(f, e.CrossmatchPerformed)
            and f.patient_id == fact.patient_id
            and f.occurred_at <= fact.occurred_at
        ]
        compatible = [c for c in crossmatches if c.result == CrossmatchResult.COMPATIBLE]
        resource: dict[str, Any] = {
            "resourceType": "BiologicallyDerivedProductDispense",
            "id": _resource_id(unit.din, unit.product_code, fact.event_id),
            "identifier": [{"system": EVENT_SYSTEM, "value": fact.event_id}],
            "status": DISPENSE_RETURNED if returned else DISPENSE_ISSUED,
        }
        origin = ORIGIN_RELATIONSHIP.get(state.donation_type or "")
        if origin is not None:
            resource["originRelationshipType"] = _concept(ORIGIN_RELATIONSHIP_SYSTEM, origin)
        resource["product"] = product
        resource["patient"] = _patient(fact.patient_id, show_patients)
        if compatible:
            resource["matchStatus"] = _concept(MATCH_STATUS_SYSTEM, MATCH_CROSSMATCHED)
        elif not crossmatches:
            resource["matchStatus"] = _concept(MATCH_STATUS_SYSTEM, MATCH_UNMATCHED)
        resource["location"] = _facility("Location", fact.facility)
        if produced is not None:
            resource["quantity"] = {
                "value": produced.volume_ml,
                "unit": "mL",
                "system": UCUM,
                "code": "mL",
            }
        if compatible:
            resource["preparedDate"] = iso(compatible[-1].occurred_at)
        resource["whenHandedOver"] = iso(fact.occurred_at)
        resources.append(resource)
    return resources


def search_identifier(token: str) -> tuple[str, str | None] | None:
    """The ``(DIN, product code or None)`` a FHIR token search ``identifier=`` names.

    ``DIN``, ``|DIN`` (no system) and ``<DIN system>|DIN`` name a donation's
    products; ``urn:bloodledger:unit|DIN-productcode`` one product. ``None``: a system
    the ledger does not issue. The DIN itself is not checked here.
    """
    system, bar, value = token.rpartition("|")
    if not bar or system in ("", DIN_SYSTEM):
        return value, None
    if system == UNIT_SYSTEM and "-" in value:
        din, _, code = value.partition("-")
        return din, code
    return None


# -- parts ---------------------------------------------------------------------------


def _resource_id(*parts: str) -> str:
    joined = "-".join(parts)
    if _RESOURCE_ID.fullmatch(joined):
        return joined
    return str(uuid.uuid5(NAMESPACE, f"fhir/{joined}"))


def _full_url(base_url: str, resource_type: str, resource_id: str) -> str:
    if base_url.startswith(("http://", "https://")):
        return f"{base_url.rstrip('/')}/{resource_type}/{resource_id}"
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{base_url}/{resource_type}/{resource_id}')}"


def _reference(base_url: str, resource_type: str, resource_id: str) -> str:
    if base_url.startswith(("http://", "https://")):
        return f"{resource_type}/{resource_id}"
    return _full_url(base_url, resource_type, resource_id)


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _product_code(product_code: str, component: str | None) -> dict[str, Any]:
    text = COMPONENT_TEXT.get(component or "", "Blood component")
    concept: dict[str, Any] = {}
    pdc = product_code[:5]
    if _PDC.fullmatch(pdc):
        concept["coding"] = [{"system": ISBT128_SYSTEM, "code": pdc}]
    concept["text"] = f"{text} ({product_code})"
    return concept


def _facility(resource_type: str, facility: str) -> dict[str, Any]:
    """A reference to a facility (``Organization`` or ``Location``) by its FIN."""
    return {
        "type": resource_type,
        "identifier": {"system": FACILITY_SYSTEM, "value": facility},
        "display": facility,
    }


def _patient(patient_id: str, show: bool) -> dict[str, Any]:
    if show:
        return {"type": "Patient", "identifier": {"system": PATIENT_SYSTEM, "value": patient_id}}
    return {
        "extension": [{"url": DATA_ABSENT_REASON_URL, "valueCode": "masked"}],
        "type": "Patient",
        "display": WITHHELD,
    }


def _celsius(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "°C", "system": UCUM, "code": "Cel"}


def _celsius_range(low: float | None, high: float | None) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if low is not None:
        limits["low"] = _celsius(low)
    if high is not None:
        limits["high"] = _celsius(high)
    return limits


def _properties(state: UnitState, collection_type: str | None) -> Iterator[dict[str, Any]]:
    if state.abo:
        use = INTENDED_USE.get(collection_type or "", "default")
        if (state.abo, state.rhd, use) not in ABORHD_CODES:
            use = "default"
        code = ABORHD_CODES.get((state.abo, state.rhd, use))
        if code is not None:
            rhd = _RHD_TEXT.get(state.rhd or "", "RhD not specified")
            yield {
                "type": _concept(PROPERTY_TYPE_SYSTEM, "aborhd", "ABORhD"),
                "valueCodeableConcept": _concept(
                    ABORHD_SYSTEM, code, f"{state.abo} {rhd}{_USE_TEXT.get(use, '')}"
                ),
            }
    if collection_type is not None and collection_type in COLLECTION_TYPES:
        yield {
            "type": _concept(PROPERTY_TYPE_SYSTEM, "collectiontype", "Collection Type"),
            "valueCodeableConcept": _concept(
                COLLECTION_TYPE_SYSTEM, collection_type, COLLECTION_TYPES[collection_type]
            ),
        }


# -- the codes, checked ----------------------------------------------------------------


def check_required_codes(resource: Mapping[str, Any]) -> list[str]:
    """What is wrong with the codes of a resource (a ``Bundle``: of it and every entry).

    The ``fhir.resources`` models do not check value-set bindings, so this does:
    every *required* binding the resources here meet (``Bundle.type``,
    ``Bundle.entry.search.mode``, the dispense's ``status`` — present —,
    ``Identifier.use``, ``Quantity.comparator``, ``Narrative.status``, the
    ``data-absent-reason`` code) and, for every ``Coding`` in one of the closed
    code systems of :data:`CODE_SYSTEMS`, that its code is one of them; an ISBT 128
    product code must have the shape of a PDC. Empty: nothing wrong.
    """
    problems: list[str] = []
    _check(resource, "", problems)
    return problems


def _check(node: Any, where: str, problems: list[str]) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _check(item, f"{where}[{index}]", problems)
        return
    if not isinstance(node, Mapping):
        return
    kind = node.get("resourceType")
    if isinstance(kind, str):
        where = f"{kind}/{node.get('id', '?')}"
        _check_resource(kind, node, where, problems)
    if isinstance(node.get("system"), str) and "code" in node:
        _check_coding(node, where, problems)
    for name, value in node.items():
        path = f"{where}.{name}" if where else name
        if name in ("identifier", "biologicalSourceEvent"):
            for identifier in value if isinstance(value, list) else [value]:
                _in("Identifier.use", identifier.get("use"), IDENTIFIER_USES, path, problems)
        elif name in ("quantity", "low", "high", "valueQuantity") and isinstance(value, Mapping):
            comparator = value.get("comparator")
            _in("Quantity.comparator", comparator, QUANTITY_COMPARATORS, path, problems)
        elif name == "extension" and isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping) and item.get("url") == DATA_ABSENT_REASON_URL:
                    reason = item.get("valueCode")
                    _in("data-absent-reason", reason, DATA_ABSENT_REASONS, path, problems, True)
        if name != "resourceType":
            _check(value, path, problems)


def _check_resource(kind: str, node: Mapping[str, Any], where: str, problems: list[str]) -> None:
    text = node.get("text")
    if isinstance(text, Mapping):
        status = text.get("status")
        _in("Narrative.status", status, NARRATIVE_STATUSES, f"{where}.text", problems, True)
    if kind == "Bundle":
        _in("Bundle.type", node.get("type"), BUNDLE_TYPES, f"{where}.type", problems, True)
        for index, entry in enumerate(node.get("entry") or []):
            search = entry.get("search") if isinstance(entry, Mapping) else None
            if isinstance(search, Mapping):
                mode = search.get("mode")
                path = f"{where}.entry[{index}].search.mode"
                _in("Bundle.entry.search.mode", mode, SEARCH_ENTRY_MODES, path, problems)
    elif kind == "BiologicallyDerivedProductDispense":
        status = node.get("status")
        _in("status", status, DISPENSE_STATUSES, f"{where}.status", problems, True)


def _check_coding(coding: Mapping[str, Any], where: str, problems: list[str]) -> None:
    system, code = coding["system"], coding.get("code")
    if system in CODE_SYSTEMS and code not in CODE_SYSTEMS[system]:
        problems.append(f"{where}: {code!r} is not a code of {system}")
    if system == ISBT128_SYSTEM and not (isinstance(code, str) and _PDC.fullmatch(code)):
        problems.append(f"{where}: {code!r} is not an ISBT 128 product description code")


def _in(
    what: str,
    code: Any,
    codes: frozenset[str],
    where: str,
    problems: list[str],
    required: bool = False,
) -> None:
    if code is None and not required:
        return
    if code is None:
        problems.append(f"{where}: {what} is missing")
    elif code not in codes:
        problems.append(f"{where}: {what} {code!r} is not one of {', '.join(sorted(codes))}")
