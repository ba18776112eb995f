"""Access control's rules: the matrix cell by cell, facility scoping, tokens and their hash,
and the service over in-memory tables (tokens, authentication, the access log sealed)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from ledger.adapters.persistence.memory import MemoryAccessTables
from ledger.domain.access import (
    FACILITY_SCOPED,
    MATRIX,
    Capability,
    Forbidden,
    Principal,
    Role,
    Unauthenticated,
    check_facility,
    check_token_name,
    looks_like_token,
    new_token,
    parse_role,
    token_hash,
)
from ledger.domain.identity import CLEAR, Identities, IdentityKey, generate_master_key
from ledger.services.access import AccessControl, TokenExists, UnknownToken

C = Capability
#: The issue's table, written out again here (not read from the module under test).
ALLOWED: dict[Role, set[Capability]] = {
    Role.INTEGRATOR: {C.SUBMIT_EVENTS},
    Role.CLINICIAN: {C.CHECK_TRANSFUSION, C.READ_UNIT, C.READ_INVENTORY, C.READ_ALERTS,
                     C.FHIR_READ},
    Role.INVESTIGATOR: {C.READ_UNIT, C.TRACE, C.LOOKBACK_READ, C.LOOKBACK_OPEN, C.FHIR_READ,
                        C.READ_INVENTORY, C.READ_ALERTS},
    Role.REGULATOR: {C.READ_UNIT, C.READ_INVENTORY, C.READ_ALERTS, C.TRACE, C.LOOKBACK_READ,
                     C.FHIR_READ, C.AUDIT_EXPORT},
    Role.ADMIN: {C.READ_ACCESS_LOG, C.MANAGE_TOKENS},
}  # fmt: skip
SCOPED: dict[Role, set[Capability]] = {
    Role.INTEGRATOR: {C.SUBMIT_EVENTS},
    Role.CLINICIAN: {C.CHECK_TRANSFUSION, C.READ_UNIT, C.READ_INVENTORY, C.READ_ALERTS,
                     C.FHIR_READ},
}  # fmt: skip
HOME, AWAY = "S3101", "S3102"
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _principal(role: Role, facility: str | None = None) -> Principal:
    return Principal(f"{role}-token", role, facility)


@pytest.mark.parametrize("capability", list(Capability))
@pytest.mark.parametrize("role", list(Role))
def test_every_cell_of_the_matrix(role: Role, capability: Capability) -> None:
    allowed = capability in ALLOWED[role]
    anywhere = _principal(role)
    assert anywhere.may(capability) is allowed
    assert anywhere.may_act_for(capability, HOME) is allowed
    if allowed:
        anywhere.check(capability, HOME)
    else:
        with pytest.raises(Forbidden, match=f"a {role} token may not"):
            anywhere.check(capability, HOME)


def test_the_matrix_is_the_issue_s_and_nothing_more() -> None:
    assert {r: set(c) for r, c in MATRIX.items()} == ALLOWED
    assert {r: set(c) for r, c in FACILITY_SCOPED.items()} == SCOPED
    assert all(SCOPED[r] <= ALLOWED[r] for r in SCOPED)
    assert set(Capability) == set().union(*ALLOWED.values())  # every capability is someone's


@pytest.mark.parametrize("capability", list(Capability))
@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.INTEGRATOR])
def test_a_principal_with_a_facility_acts_for_it_alone_where_the_capability_is_scoped(
    role: Role, capability: Capability
) -> None:
    principal = _principal(role, HOME)
    if capability not in ALLOWED[role]:
        assert not principal.may_act_for(capability, HOME)
        return
    scoped = capability in SCOPED[role]
    assert principal.scope(capability) == (HOME if scoped else None)
    assert principal.may_act_for(capability, HOME)
    assert principal.may_act_for(capability, None)  # the answer is limited to scope()
    assert principal.may_act_for(capability, AWAY) is not scoped
    if scoped:
        with pytest.raises(Forbidden, match="its own facility only") as refused:
            principal.check(capability, AWAY)
        assert AWAY not in str(refused.value) and principal.name not in str(refused.value)


def test_an_integrator_without_a_facility_submits_for_any() -> None:
    integrator = _principal(Role.INTEGRATOR)
    assert integrator.scope(C.SUBMIT_EVENTS) is None
    assert integrator.may_act_for(C.SUBMIT_EVENTS, HOME)
    assert integrator.may_act_for(C.SUBMIT_EVENTS, AWAY)


@pytest.mark.parametrize("role", [Role.INVESTIGATOR, Role.REGULATOR, Role.ADMIN])
def test_roles_without_a_facility_are_never_scoped(role: Role) -> None:
    principal = _principal(role)
    assert all(principal.scope(c) is None for c in Capability)
    assert not principal.restricted_to(HOME)


def test_restricted_to_names_the_principal_s_own_facility() -> None:
    clinician = _principal(Role.CLINICIAN, HOME)
    assert clinician.restricted_to(HOME) and not clinician.restricted_to(AWAY)


def test_only_investigators_regulators_and_admins_see_donors() -> None:
    seers = {r for r in Role if _principal(r, HOME).sees_donors}
    assert seers == {Role.INVESTIGATOR, Role.REGULATOR, Role.ADMIN}


def test_a_token_is_blt_and_32_random_bytes_and_its_hash_is_sha256_hex() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"blt_[A-Za-z0-9_-]{43}", token) and looks_like_token(token)
        assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
        assert re.fullmatch(r"[0-9a-f]{64}", token_hash(token))
    assert not looks_like_token("blt_short") and not looks_like_token("Bearer x")


def test_facilities_names_and_roles_are_checked_with_clear_messages() -> None:
    assert check_facility(Role.CLINICIAN, HOME) == HOME
    assert check_facility(Role.INTEGRATOR, None) is None
    with pytest.raises(ValueError, match="acts for one facility"):
        check_facility(Role.CLINICIAN, None)
    with pytest.raises(ValueError, match="has no facility"):
        check_facility(Role.INVESTIGATOR, HOME)
    with pytest.raises(ValueError, match="ISBT 128 FIN"):
        check_facility(Role.INTEGRATOR, "s31")
    with pytest.raises(ValueError, match="unknown role 'nurse': one of integrator, clinician"):
        parse_role("nurse")
    assert check_token_name("ward-3.icu@s3101") == "ward-3.icu@s3101"
    for bad in ("", "-x", "a b", "x" * 65, "ä"):
        with pytest.raises(ValueError, match="token name"):
            check_token_name(bad)


# -- the service, over the in-memory tables ---------------------------------------------


def _control(identities: Identities = CLEAR) -> AccessControl:
    return AccessControl(MemoryAccessTables(), identities, Clock())


def test_a_token_authenticates_as_its_principal_until_revoked() -> None:
    control = _control()
    token = control.create("ward-3", "clinician", HOME)
    assert control.authenticate(token) == Principal("ward-3", Role.CLINICIAN, HOME)
    listed = control.tokens()
    assert [t["name"] for t in listed] == ["ward-3"] and listed[0]["active"]
    assert token not in repr(listed) and token_hash(token) not in repr(listed)
    assert token_hash(token).startswith(listed[0]["fingerprint"])
    control.revoke("ward-3")
    with pytest.raises(Unauthenticated, match="revoked"):
        control.authenticate(token)
    assert control.tokens()[0]["revoked_at"] == "2026-09-01T08:00:02Z"
    with pytest.raises(UnknownToken):
        control.revoke("ward-3")
    with pytest.raises(UnknownToken):
        control.revoke("nobody")


@pytest.mark.parametrize("given", [None, "", "garbage", "blt_" + "A" * 43])
def test_no_token_or_an_unknown_one_is_unauthenticated(given: str | None) -> None:
    control = _control()
    control.create("root", Role.ADMIN)
    with pytest.raises(Unauthenticated) as refused:
        control.authenticate(given)
    assert not given or given not in str(refused.value)


def test_a_name_is_never_reused_even_revoked() -> None:
    control = _control()
    control.create("feed", "integrator", HOME)
    control.revoke("feed")
    with pytest.raises(TokenExists, match="'feed' exists already"):
        control.create("feed", "integrator")


def test_authorize_and_facility_for() -> None:
    control = _control()
    clinician = control.authenticate(control.create("ward", "clinician", HOME))
    control.authorize(clinician, C.READ_INVENTORY, HOME)
    assert control.facility_for(clinician, C.READ_INVENTORY) == HOME
    assert control.facility_for(clinician, C.FHIR_READ) == HOME  # a unit's resources
    investigator = control.authenticate(control.create("hv", "investigator"))
    assert control.facility_for(investigator, C.FHIR_READ) is None
    with pytest.raises(Forbidden):
        control.facility_for(clinician, C.READ_INVENTORY, AWAY)
    with pytest.raises(Forbidden):
        control.authorize(clinician, C.TRACE)


def test_reveals_are_recorded_sealed_and_read_back_revealed() -> None:
    key = IdentityKey(generate_master_key())
    tables = MemoryAccessTables()
    control = AccessControl(tables, Identities(key), Clock())
    investigator = control.authenticate(control.create("hv", "investigator"))
    control.record_reveal(investigator, "/trace", [])  # nothing shown: nothing recorded
    assert tables.access_entries() == []
    shown = [("donor", "D000042"), ("patient", "P-77"), ("donor", "D000042")]
    control.record_reveal(investigator, "/trace", shown)
    control.record_reveal(
        investigator, "/lookbacks/{case_id}", [("patient", key.seal("patient", "P-9"))]
    )
    stored = tables.access_entries()
    assert [e.route for e in stored] == ["/lookbacks/{case_id}", "/trace"]  # newest first
    assert stored[1].identifiers == (
        ("donor", key.seal("donor", "D000042")),
        ("patient", key.seal("patient", "P-77")),
    )
    assert "D000042" not in repr(stored) and "P-77" not in repr(stored)
    entries = control.entries()
    assert entries[1] == {
        "id": 1,
        "at": "2026-09-01T08:00:02Z",
        "token_name": "hv",
        "role": "investigator",
        "route": "/trace",
        "identifiers": [{"kind": "donor", "id": "D000042"}, {"kind": "patient", "id": "P-77"}],
    }
    assert entries[0]["identifiers"] == [{"kind": "patient", "id": "P-9"}]
    assert [e["id"] for e in control.entries(limit=1, offset=1)] == [1]
    with pytest.raises(ValueError, match="kind"):
        control.record_reveal(investigator, "/trace", [("nurse", "N1")])


def test_an_admin_reading_the_log_is_itself_recorded_and_no_one_else_may() -> None:
    control = _control()
    investigator = control.authenticate(control.create("hv", "investigator"))
    admin = control.authenticate(control.create("root", "admin"))
    control.record_reveal(investigator, "/trace", [("donor", "D1")])
    with pytest.raises(Forbidden):
        control.read_log(investigator, "/access-log")
    shown = control.read_log(admin, "/access-log")
    assert [e["token_name"] for e in shown] == ["hv"]
    assert [(e["token_name"], e["route"]) for e in control.entries()] == [
        ("root", "/access-log"),
        ("hv", "/trace"),
    ]
