"""Sealed identifiers: deterministic, idempotent, opened by the key or one identity's own key;
and a protected ledger (in memory) that seals every fact it is given before recording it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.identity import (
    IDENTITY_FIELDS,
    Identities,
    IdentityKey,
    IdentityKeyError,
    generate_master_key,
    is_sealed,
    open_with_disclosure,
    token_of,
)
from ledger.domain.lookback import CaseRequest, LookbackCase
from ledger.domain.protection import PROTECTION_ID, IdentitiesProtected, IdentityProtection
from ledger.entrypoints.runtime import CIPHER_KEY_ENV, InvalidCipherKey, cipher_key
from ledger.services.application import BloodLedger, IdentitiesWithheld, WithheldIdentities
from ledger.services.history import history_json
from tests.builders import RBC, Timeline, at

MASTER = generate_master_key()
KEY = IdentityKey(MASTER)
OTHER = IdentityKey(generate_master_key())


def test_sealing_is_deterministic_idempotent_and_reveals_the_value() -> None:
    sealed = KEY.seal("donor", "D000001")
    assert is_sealed(sealed) and "D000001" not in sealed
    assert IdentityKey(generate_master_key()).seal("donor", "D000001") != sealed
    fresh = IdentityKey(MASTER)  # the same key, nothing cached: the same sealed value
    assert fresh.seal("donor", "D000001") == sealed
    assert KEY.seal("donor", sealed) == sealed  # already sealed: as it is
    assert KEY.seal("patient", "D000001") != sealed  # the kind is part of the identity
    assert KEY.reveal(sealed) == "D000001" == fresh.reveal(sealed)
    assert KEY.reveal("D000001") == "D000001"
    assert KEY.seal("donor", "D000002") != sealed


def test_a_fresh_key_object_seals_as_the_cached_one() -> None:
    one, two = IdentityKey(MASTER), IdentityKey(MASTER)
    values = [f"P{n:06d}" for n in range(50)]
    assert [one.seal("patient", v) for v in values] == [two.seal("patient", v) for v in values]
    assert one.check == two.check == KEY.check != OTHER.check


def test_a_disclosure_key_opens_its_own_identity_and_no_other() -> None:
    mine, theirs = KEY.seal("patient", "P000001"), KEY.seal("patient", "P000002")
    disclosure = KEY.disclosure(token_of(mine))
    assert open_with_disclosure(mine, disclosure) == "P000001"
    with pytest.raises(IdentityKeyError):
        open_with_disclosure(theirs, disclosure)
    with pytest.raises(IdentityKeyError):
        OTHER.reveal(mine)  # another master key opens nothing


def test_a_fact_is_sealed_field_by_field_and_revealed_anywhere_in_a_document() -> None:
    identities = Identities(KEY)
    fact = Timeline().collected(donation_type="AUTOLOGOUS", intended="P000009")
    sealed = identities.sealed_fact(fact)
    for name in IDENTITY_FIELDS:
        value = sealed.payload.get(name)
        assert value is None or is_sealed(value)
    assert sealed.payload["intended_patient_id"] == KEY.seal("patient", "P000009")
    assert identities.sealed_fact(sealed) is sealed  # nothing left to seal
    assert {k: v for k, v in sealed.payload.items() if k not in IDENTITY_FIELDS} == {
        k: v for k, v in fact.payload.items() if k not in IDENTITY_FIELDS
    }
    document = {"a": [sealed.payload["donor_id"], 3], "b": f"for {KEY.seal('patient', 'P7')}."}
    assert identities.revealed(document) == {"a": ["D000001", 3], "b": "for P7."}


def test_the_key_comes_from_the_environment_or_not_at_all() -> None:
    assert cipher_key({}) is None
    assert cipher_key({CIPHER_KEY_ENV: "  "}) is None
    found = cipher_key({CIPHER_KEY_ENV: f" {MASTER}\n"})
    assert found is not None and found.check == IdentityKey(MASTER).check
    for bad in ("short", MASTER[:-4], "é" * 44):
        with pytest.raises(InvalidCipherKey) as raised:
            cipher_key({CIPHER_KEY_ENV: bad})
        assert CIPHER_KEY_ENV in str(raised.value) and bad not in str(raised.value)
        assert isinstance(raised.value, ValueError)  # the CLI's one line, exit 2


def _protected() -> BloodLedger:
    return open_ledger(store_for("memory://"), identity_key=KEY)


def test_a_new_protected_ledger_records_its_protection_first_and_seals_every_fact() -> None:
    ledger = _protected()
    try:
        assert ledger.identities.protected
        protection = ledger.protection()
        assert isinstance(protection, IdentityProtection)
        assert protection.opens_with(KEY.check) and not protection.opens_with(OTHER.check)
        story = Timeline().transfused_cleanly()
        outcome = ledger.record(story.facts)
        assert outcome.events > len(story.facts)
        notifications = ledger.event_log.page(1, 1000)
        first = ledger.event_log.decode(notifications[0])
        assert isinstance(first, IdentitiesProtected) and first.originator_id == PROTECTION_ID
        stored = b"".join(n.state for n in notifications)
        assert b"D000001" not in stored and b"P000001" not in stored
        assert ledger.record(story.facts).duplicates == len(story.facts)  # sealed equally
        [unit] = ledger.units_of(story.din, RBC)
        document = history_json([unit])
        assert "P000001" not in str(document)
        shown = ledger.identities.revealed(document)
        assert [e.get("patient_id") for e in shown["units"][0]["events"]][-1] == "P000001"
        assert not unit.state().flags  # the transfusion's checks matched sealed patients
    finally:
        ledger.close()


def test_a_conflict_names_the_fact_as_it_was_given() -> None:
    """The ingest finds the record a refused fact came in by the fact object itself."""
    ledger = _protected()
    try:
        timeline = Timeline()
        first = timeline.collected()
        ledger.record([first])
        other = replace(first, payload={**first.payload, "donor_id": "D000002"})
        batch = ledger.prepare([other])
        [conflict] = batch.conflicts
        assert conflict.fact is other
    finally:
        ledger.close()


def test_the_derived_flags_compare_sealed_patients() -> None:
    """AUTOLOGOUS_MISMATCH compares the intended patient with the recipient: sealed alike."""
    timeline = Timeline()
    timeline.collected(donation_type="AUTOLOGOUS", intended="P000001")
    timeline.produced()
    timeline.grouped()
    timeline.tested()
    timeline.released()
    timeline.issued()
    timeline.received()
    timeline.crossmatched(patient="P000002")
    timeline.started(patient="P000002")
    flags = []
    for identity_key in (None, KEY):
        ledger = open_ledger(store_for("memory://"), identity_key=identity_key)
        try:
            ledger.record(timeline.facts)
            [unit] = ledger.units_of(timeline.din, RBC)
            flags.append(unit.state().flags)
        finally:
            ledger.close()
    assert flags[0] == flags[1] and "AUTOLOGOUS_MISMATCH" in flags[0]


def test_a_ledger_opened_without_its_key_records_nothing() -> None:
    ledger = open_ledger(store_for("memory://"))
    try:
        ledger.identities = WithheldIdentities()
        assert ledger.identities.protected
        assert ledger.identities.reveal("bl1:x") == "bl1:x"
        for facts in ([Timeline().collected()], []):
            with pytest.raises(IdentitiesWithheld):
                ledger.record(facts)
        assert ledger.event_log.head() == 0
    finally:
        ledger.close()


def test_a_protected_ledger_refuses_a_lookback_case_naming_its_donor_in_the_clear() -> None:
    ledger = _protected()
    try:
        head = ledger.event_log.head()

        def case(donor: str) -> LookbackCase:
            request = CaseRequest(f"LB-{donor[-4:]}", donor, "test", at(0) - timedelta(days=9),
                                  at(0), None, "investigator")  # fmt: skip
            return LookbackCase.open(request)

        with pytest.raises(ValueError, match="sealed"):
            ledger.record([], also=[case("D000001")])
        assert ledger.event_log.head() == head
        ledger.record([], also=[case(KEY.seal("donor", "D000001"))])
        assert ledger.event_log.head() == head + 1
    finally:
        ledger.close()
