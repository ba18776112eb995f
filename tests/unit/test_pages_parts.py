"""The pages' parts that need no server: date-time fields, redirects after sign-in,
late arrivals, the session cookie and CSRF tokens, the trace graph's layout and the
glossary's words for every code of the ledger's vocabularies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from ledger.domain.inventory import AlertLevel, AlertPolicy
from ledger.domain.unit_state import Status
from ledger.domain.vocabulary import Component, EventType, Flag
from ledger.entrypoints import dashboard, glossary
from ledger.entrypoints.pages import BadMoment, late_arrivals, local_path, read_moment
from ledger.entrypoints.sessions import (
    SESSION_SECONDS,
    InvalidSessionKey,
    SessionKeeper,
    session_key,
)
from ledger.entrypoints.trace_graph import ROW, layout
from projections.queries import InventoryRow

# -- date-time fields ------------------------------------------------------------------


def test_a_datetime_local_field_is_read_as_utc() -> None:
    assert read_moment("2026-09-01T08:00", "as_of") == datetime(2026, 9, 1, 8, tzinfo=UTC)
    assert read_moment("2026-09-01T08:00:30", "as_of") == datetime(2026, 9, 1, 8, 0, 30, tzinfo=UTC)


def test_an_instant_with_an_offset_keeps_its_offset_and_a_date_is_midnight_utc() -> None:
    assert read_moment("2026-09-01T16:00:00+08:00", "x") == datetime(2026, 9, 1, 8, tzinfo=UTC)
    assert read_moment("2026-09-01T08:00:00Z", "x") == datetime(2026, 9, 1, 8, tzinfo=UTC)
    assert read_moment("2026-09-01", "x") == datetime(2026, 9, 1, tzinfo=UTC)


def test_an_empty_field_is_none_and_anything_else_is_refused_naming_the_field() -> None:
    assert read_moment(None, "as_of") is None
    assert read_moment("  ", "as_of") is None
    for junk in ("yesterday", "2026-13-01T00:00", "0.5", "2026-09-01T08:00:00+99:00"):
        with pytest.raises(BadMoment) as refused:
            read_moment(junk, "known_at")
        assert refused.value.field == "known_at"


# -- where a sign-in may send a person ---------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["/units/S310126000001?as_of=2026-09-01T08:00", "/inventory", "/trace?donor=D1&lang=en"],
)
def test_a_local_path_is_kept(target: str) -> None:
    assert local_path(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "units",
        "/login",
        "/logout",
        "/x\r\nSet-Cookie: a=b",
    ],
)
def test_anything_but_a_local_page_goes_to_the_start_page(target: str | None) -> None:
    assert local_path(target) == "/"


# -- late arrivals -------------------------------------------------------------------------


def _fact(event_id: str, occurred: str, recorded: str) -> dict[str, str]:
    return {"event_id": event_id, "occurred_at": occurred, "recorded_at": recorded}


def test_a_fact_recorded_after_one_that_happened_later_is_late() -> None:
    events = [
        _fact("issued", "2026-09-01T08:00:00Z", "2026-09-01T08:00:01Z"),
        _fact("received", "2026-09-01T10:00:00Z", "2026-09-01T23:00:00Z"),  # held back
        _fact("crossmatched", "2026-09-01T20:00:00Z", "2026-09-01T20:00:01Z"),
    ]
    assert late_arrivals(events) == {"received"}


def test_facts_recorded_in_the_order_they_happened_are_not_late() -> None:
    events = [
        _fact("a", "2026-09-01T08:00:00Z", "2026-09-02T00:00:00.100000Z"),
        _fact("b", "2026-09-01T09:00:00Z", "2026-09-02T00:00:00.200000Z"),
        _fact("c", "2026-09-01T09:00:00Z", "2026-09-02T00:00:00.300000Z"),  # same moment
    ]
    assert late_arrivals(events) == set()


# -- sessions and CSRF -------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_cookie_names_the_token_hash_and_reads_back() -> None:
    keeper = SessionKeeper(b"k" * 32, Clock())
    session, cookie = keeper.begin("ab" * 32)
    assert "ab" * 32 not in cookie  # encoded, and never the token itself
    assert keeper.read(cookie) == session


def test_an_altered_forged_or_foreign_cookie_is_no_session() -> None:
    clock = Clock()
    keeper = SessionKeeper(b"k" * 32, clock)
    _, cookie = keeper.begin("ab" * 32)
    body, mac = cookie.split(".")
    _, other = keeper.begin("cd" * 32)
    assert keeper.read(other.split(".")[0] + "." + mac) is None  # another body, this mac
    assert keeper.read(body + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")) is None
    assert SessionKeeper(b"x" * 32, clock).read(cookie) is None  # another server's key
    for junk in (None, "", "no-dot", "a.b.c", "!!!.???"):
        assert keeper.read(junk) is None


def test_a_session_ends_after_its_hours() -> None:
    clock = Clock()
    keeper = SessionKeeper(b"k" * 32, clock)
    session, cookie = keeper.begin("ab" * 32)
    clock.now += SESSION_SECONDS - 1
    assert keeper.read(cookie) == session
    clock.now += 2
    assert keeper.read(cookie) is None


def test_a_csrf_token_is_good_for_its_nonce_only() -> None:
    keeper = SessionKeeper(b"k" * 32, Clock())
    token = keeper.csrf("nonce-1")
    assert keeper.csrf_ok("nonce-1", token)
    assert not keeper.csrf_ok("nonce-2", token)
    assert not keeper.csrf_ok("nonce-1", "")
    assert not keeper.csrf_ok(None, token)
    assert not SessionKeeper(b"x" * 32, Clock()).csrf_ok("nonce-1", token)


def test_the_session_key_comes_from_the_environment_or_is_made_per_process() -> None:
    assert session_key({"BLOODLEDGER_SESSION_KEY": "s" * 40}) == b"s" * 40
    made = session_key({})
    assert len(made) == 32 and made != session_key({})
    with pytest.raises(InvalidSessionKey, match="at least 32"):
        session_key({"BLOODLEDGER_SESSION_KEY": "short"})


# -- the trace graph -----------------------------------------------------------------------


def _trace() -> dict[str, object]:
    return {
        "donors": ["D1"],
        "donations": [
            {"din": "S310126000001", "donor_id": "D1", "reactive": False, "facility": "S3101"},
            {"din": "S310126000002", "donor_id": "D1", "reactive": True, "facility": "S3101"},
        ],
        "units": [
            {"din": "S310126000001", "product_code": "E0791V00", "component": "RED_CELLS",
             "status": "TRANSFUSED", "facility": "S3102", "flags": []},
            {"din": "S310126000001", "product_code": "E2702V00", "component": "PLASMA",
             "status": "AVAILABLE", "facility": "S3101", "flags": []},
            {"din": "S310126000002", "product_code": "E0791V00", "component": "RED_CELLS",
             "status": "QUARANTINED", "facility": "S3102", "flags": ["REACTIVE_DONATION"]},
        ],
        "recipients": [
            {"patient_id": "P1", "din": "S310126000001", "product_code": "E0791V00",
             "facility": "S3102", "transfused_at": "2026-09-02T07:00:00Z"},
        ],
    }  # fmt: skip


def test_the_graph_links_donor_to_donations_to_units_to_recipients() -> None:
    graph = layout(_trace())
    by_key = {n.key: n for n in graph.nodes}
    donor = by_key[("donor", "D1")]
    assert [c.key for c in donor.children] == [
        ("donation", "S310126000001"),
        ("donation", "S310126000002"),
    ]
    first = by_key[("donation", "S310126000001")]
    assert {c.key[2] for c in first.children} == {"E0791V00", "E2702V00"}
    given = by_key[("unit", "S310126000001", "E0791V00")]
    assert [c.key for c in given.children] == [("recipient", "P1")]
    assert len(graph.edges) == 2 + 3 + 1
    assert [n.column for n in (donor, first, given, given.children[0])] == [0, 1, 2, 3]


def test_each_node_links_to_its_page_and_carries_its_colours() -> None:
    by_key = {n.key: n for n in layout(_trace()).nodes}
    assert by_key[("donor", "D1")].href == "/trace?donor=D1"
    assert by_key[("donation", "S310126000002")].href == "/units/S310126000002"
    assert by_key[("donation", "S310126000002")].flagged
    unit = by_key[("unit", "S310126000002", "E0791V00")]
    assert unit.href == "/units/S310126000002?product=E0791V00"
    assert unit.status == "QUARANTINED" and unit.flagged
    assert by_key[("recipient", "P1")].href == "/trace?patient=P1"
    assert not by_key[("unit", "S310126000001", "E2702V00")].flagged


def test_a_withheld_donor_links_nowhere() -> None:
    trace = _trace()
    trace["donors"] = ["withheld"]
    for donation in trace["donations"]:  # type: ignore[attr-defined]
        donation["donor_id"] = "withheld"
    donor = next(n for n in layout(trace).nodes if n.kind == "donor")
    assert donor.href is None


def test_nodes_of_a_column_never_overlap_and_sit_beside_what_they_come_from() -> None:
    graph = layout(_trace())
    for kind in ("donor", "donation", "unit", "recipient"):
        ys = sorted(n.y for n in graph.of(kind))
        assert all(b - a >= ROW for a, b in itertools.pairwise(ys)), kind
    recipient = graph.of("recipient")[0]
    assert recipient.y == recipient.parents[0].y  # level with the unit it was given
    assert max(n.y for n in graph.nodes) + graph.node_height <= graph.height


# -- the glossary ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        ("status", Status),
        ("component", Component),
        ("flag", Flag),
        ("explanation", Flag),
        ("event", EventType),
        ("alert", AlertLevel),
    ],
)
def test_every_code_of_the_vocabularies_has_words(table: str, codes: type) -> None:
    unknown = {"?"}  # the reports' code for a component or group the facts do not give
    assert set(glossary.TABLES[table]) - unknown == {c.value for c in codes}


def test_a_code_is_translated_and_an_unknown_code_is_shown_as_it_is() -> None:
    zh = glossary.Words.of("zh_CN")
    assert zh.term("component", "RED_CELLS") == "红细胞"
    assert zh.term("component", "CRYO") == "冷沉淀"
    assert zh.term("flag", "NO_VALID_CROSSMATCH") == "无有效交叉配血"
    assert zh.term("status", "SOMETHING_NEW") == "SOMETHING_NEW"
    assert zh.term("value", True) == "是" and zh.term("value", False) == "否"
    assert zh.term("value", 1) == "1"  # a number is never a code (1 == True)
    assert zh.term("value", None) == ""


# -- the inventory dashboard's grid ------------------------------------------------------


def _row(facility: str, component: str, abo: str, rhd: str, alert: AlertLevel) -> InventoryRow:
    return InventoryRow(
        facility, component, abo, rhd, available=2, units=3.0, expiring_24h=0,
        expiring_72h=1, daily_use=1.0, days_of_supply=2.0, alert=alert,
        centre=facility == "S3101", thresholds=AlertPolicy().thresholds(component),
    )  # fmt: skip


def test_the_grid_lists_components_as_a_blood_bank_does_and_every_group_across() -> None:
    rows = [
        _row("S3102", "PLASMA", "A", "POS", AlertLevel.GREEN),
        _row("S3102", "RED_CELLS", "O", "NEG", AlertLevel.RED),
        _row("S3102", "RED_CELLS", "?", "?", AlertLevel.GREEN),
        _row("S3101", "CRYO", "AB", "NEG", AlertLevel.EMERGENCY),
    ]
    hospital, centre = dashboard.grids(rows)
    assert (hospital.facility, hospital.centre, centre.centre) == ("S3102", False, True)
    assert hospital.components == ["RED_CELLS", "PLASMA"]
    assert hospital.groups[:8] == list(dashboard.GROUP_ORDER) and hospital.groups[8] == ("?", "?")
    red_cells = dict(zip(hospital.groups, hospital.cells[0], strict=True))
    assert red_cells[("O", "NEG")] is rows[1] and red_cells[("?", "?")] is rows[2]
    assert red_cells[("A", "POS")] is None  # nothing there: an empty cell, columns aligned
    assert dashboard.summary(rows) == [
        (AlertLevel.EMERGENCY, 1),
        (AlertLevel.RED, 1),
        (AlertLevel.GREEN, 2),
    ]
